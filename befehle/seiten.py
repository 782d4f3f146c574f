"""Was Klimadashboard (`befehle.dashboardseite`) und Klimabericht-Kapitel (`befehle.klimabericht`)
teilen: die Jinja2-Umgebung mit ihren Vorlagen (`vorlagen/`), das Verlaufsdiagramm der Ampeln und
das atomare Schreiben.

Vorlagen auf `.html.j2` werden mit Autoescaping gerendert – jeder Name aus der Struktur und jeder
Text aus einer Meldung wird maskiert –, Vorlagen auf `.md.j2` ohne; dort maskiert der Filter `md`.
Beide Seiten erben von `basis.html.j2` (Stil, Druckstil) und nehmen die Ampel aus
`ampel.html.j2`: als Symbol und Wort, nie nur als Farbe.

Jinja2 und matplotlib werden erst beim Aufruf geladen: Der Bot selbst braucht sie nicht.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from befehle import schreibweise
from befehle.diagramm import REIHEN
from befehle.schreibweise import md_text
from modelle.berichtsdaten import Ampelzaehlung
from modelle.werte import Ampel

if TYPE_CHECKING:
    from jinja2 import Environment

VORLAGEN = Path(__file__).parent / "vorlagen"


def umgebung(zeitzone: ZoneInfo, **filter: Callable[..., Any]) -> Environment:
    """Die Jinja2-Umgebung beider Seiten; `filter` kommen zu den gemeinsamen hinzu."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    ergebnis = Environment(
        loader=FileSystemLoader(VORLAGEN),
        # Nur Markdown ohne: Alles andere, auch eine neue Vorlage mit anderer Endung, maskiert.
        autoescape=select_autoescape(
            enabled_extensions=("html.j2",), disabled_extensions=("md.j2",), default=True
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    ergebnis.filters["datum"] = lambda wert: schreibweise.datum(wert, zeitzone)
    ergebnis.filters["md"] = lambda text: md_text(str(text))
    ergebnis.filters["anzahl"] = schreibweise.anzahl
    ergebnis.filters["ampelwort"] = schreibweise.ampel
    ergebnis.filters.update(filter)
    ergebnis.globals["ampeln"] = list(Ampel)
    return ergebnis


# --- Verlaufsdiagramm --------------------------------------------------------------------


def verlaufsbild(
    verlauf: Sequence[Ampelzaehlung],
    beschriftungen: Mapping[int, str],
    *,
    format: Literal["svg", "png"],
    groesse: tuple[float, float] = (4.8, 1.8),
) -> bytes:
    """Gestapelte Säulen je Stichtag (Ampeln von unten, dann ohne Meldung) als Datei.

    `beschriftungen` ordnet Säulen (Index) ihre Beschriftung zu; die übrigen bleiben ohne. Ohne
    Metadaten (Datum, Software, Adressen): dieselben Zahlen ergeben dieselbe Datei.
    """
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    matplotlib.rcParams["svg.fonttype"] = "none"  # Schrift als Text: klein und durchsuchbar
    matplotlib.rcParams["svg.hashsalt"] = "klimabot"  # gleiche Daten, gleiche Datei
    figur = Figure(figsize=groesse)
    achse = figur.add_axes((0.08, 0.2, 0.9, 0.72))
    x = list(range(len(verlauf)))
    unten = [0] * len(x)
    werte_je_reihe = [*([z.ampeln[a] for z in verlauf] for a in Ampel)]
    werte_je_reihe.append([z.ohne_meldung for z in verlauf])
    for farbe, werte in zip(REIHEN, werte_je_reihe, strict=True):
        achse.bar(x, werte, bottom=unten, color=farbe, width=0.8, linewidth=0)
        unten = [u + w for u, w in zip(unten, werte, strict=True)]
    achse.set_xticks(list(beschriftungen), list(beschriftungen.values()), fontsize=8)
    achse.tick_params(axis="y", labelsize=8)
    achse.yaxis.set_major_locator(MaxNLocator(integer=True))
    for seite in ("top", "right"):
        achse.spines[seite].set_visible(False)
    puffer = io.BytesIO()
    if format == "svg":
        metadaten: dict[str, Any] = {"Creator": None, "Date": None, "Format": None, "Type": None}
        figur.savefig(puffer, format="svg", metadata=metadaten)
    else:
        figur.savefig(puffer, format="png", dpi=200, metadata={"Software": None})
    return puffer.getvalue()


def beschreibung(
    gegenstand: str, verlauf: Sequence[Ampelzaehlung], zeitraum: str, *, ende: str = "am Ende"
) -> str:
    """Was das Diagramm zeigt, in Worten: für Screenreader (`aria-label`, `alt`);
    `gegenstand` etwa „im Themenfeld Energie“."""
    zuletzt = verlauf[-1]
    return (
        f"Ampeln {gegenstand} {zeitraum}; {ende} "
        + ", ".join(f"{zuletzt.ampeln[a]} {a.wort}" for a in Ampel)
        + f", {zuletzt.ohne_meldung} ohne Meldung"
    )


def svg_eingebettet(svg: bytes, text: str) -> Any:
    """Eine SVG-Datei als Element zum Einbetten in HTML (Markup: matplotlib maskiert seinen Text
    selbst), mit `role="img"` und `text` als Beschreibung."""
    from markupsafe import Markup

    inhalt = svg.decode()
    inhalt = inhalt[inhalt.index("<svg") :]  # ohne XML-Kopf und DOCTYPE
    return Markup(
        inhalt.replace("<svg ", f'<svg role="img" aria-label="{Markup.escape(text)}" ', 1)
    )


def kurzdatum(wert: dt.datetime, zeitzone: ZoneInfo) -> str:
    return wert.astimezone(zeitzone).strftime("%d.%m.")


# --- Schreiben -----------------------------------------------------------------------------


def ersetze_atomar(ziel: Path, schreibe: Callable[[Path], object]) -> None:
    """Legt `ziel` (Datei oder Ordner) neu an: `schreibe` füllt einen Pfad daneben, dann wird
    umbenannt. Wer `ziel` gerade liest, sieht das Alte oder das Neue, nie eine Hälfte; geht
    etwas schief, bleibt das Alte."""
    ziel = ziel.resolve()
    ziel.parent.mkdir(parents=True, exist_ok=True)
    neu = ziel.with_name(f".{ziel.name}.neu-{os.getpid()}")
    alt = ziel.with_name(f".{ziel.name}.alt-{os.getpid()}")
    _entferne(neu)
    try:
        schreibe(neu)
        if ziel.is_dir():
            # Ordner lassen sich nicht über einen bestehenden umbenennen: erst beiseite.
            ziel.rename(alt)
        neu.replace(ziel)
    except BaseException:
        _entferne(neu)
        if alt.exists() and not ziel.exists():
            alt.rename(ziel)
        raise
    _entferne(alt)


def _entferne(pfad: Path) -> None:
    if pfad.is_dir():
        shutil.rmtree(pfad, ignore_errors=True)
    else:
        pfad.unlink(missing_ok=True)
