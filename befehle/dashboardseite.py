"""Das Klimadashboard als eine statische HTML-Seite (`klimabot dashboard -o ORDNER`).

Eine Datei `index.html`, die alles enthält: Stil inline, die Verläufe als SVG (matplotlib),
kein JavaScript, keine Anfrage nach außen – sie funktioniert aus `file://` wie von jedem
Webserver. Die Vorlage (`vorlagen/dashboard.html.j2`) rendert Jinja2 mit Autoescaping: jeder
Name aus der Struktur und jeder Text aus einer Meldung wird maskiert. Die Ampel steht immer als
Symbol und Wort, nie nur als Farbe. Was die öffentliche Fassung nicht zeigen darf, ist schon
in ihren Daten nicht enthalten (`modelle.dashboarddaten`).

Geschrieben wird atomar: erst ein Ordner daneben, dann umbenannt – wer die Seite gerade
ausliefert, sieht die alte oder die neue, nie eine halbe.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from befehle import schreibweise
from befehle.diagramm import FARBEN, OHNE_MELDUNG_FARBE
from modelle.berichtsdaten import Ampelzaehlung
from modelle.dashboarddaten import Dashboard
from modelle.werte import Ampel

VORLAGEN = Path(__file__).parent / "vorlagen"


def dashboard_html(dashboard: Dashboard, zeitzone: ZoneInfo) -> str:
    """Die Seite als Text (UTF-8)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    umgebung = Environment(
        loader=FileSystemLoader(VORLAGEN),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    umgebung.filters["alter"] = lambda zeitpunkt: schreibweise.alter(
        zeitpunkt, dashboard.stand, zeitzone
    )
    umgebung.filters["datum"] = lambda zeitpunkt: zeitpunkt.astimezone(zeitzone).strftime(
        "%d.%m.%Y"
    )
    vorlage = umgebung.get_template("dashboard.html.j2")
    return vorlage.render(
        dashboard=dashboard,
        ampeln=list(Ampel),
        stand=dashboard.stand.astimezone(zeitzone).strftime("%d.%m.%Y, %H:%M Uhr"),
        verlauf_svg={
            feld.slug: verlauf_svg(feld.name, dashboard.stichtage, feld.verlauf, zeitzone)
            for feld in dashboard.felder
        },
    )


def verlauf_svg(
    name: str,
    stichtage: tuple[dt.datetime, ...],
    verlauf: tuple[Ampelzaehlung, ...],
    zeitzone: ZoneInfo,
) -> Any:
    """Gestapelte Säulen je Woche als SVG-Element (Markup, sicher einzubetten: matplotlib
    maskiert Text selbst), mit Beschreibung für Screenreader."""
    import matplotlib
    from markupsafe import Markup
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    matplotlib.rcParams["svg.fonttype"] = "none"  # Schrift als Text: klein und durchsuchbar
    matplotlib.rcParams["svg.hashsalt"] = "klimabot"  # gleiche Daten, gleiche Datei
    figur = Figure(figsize=(4.8, 1.8))
    FigureCanvasSVG(figur)
    achse = figur.add_axes((0.08, 0.2, 0.9, 0.72))
    x = list(range(len(stichtage)))
    unten = [0] * len(x)
    reihen = [*((FARBEN[a], [z.ampeln[a] for z in verlauf]) for a in Ampel)]
    reihen.append((OHNE_MELDUNG_FARBE, [z.ohne_meldung for z in verlauf]))
    for farbe, werte in reihen:
        achse.bar(x, werte, bottom=unten, color=farbe, width=0.8, linewidth=0)
        unten = [u + w for u, w in zip(unten, werte, strict=True)]
    achse.set_xticks(
        [x[0], x[-1]],
        [stichtage[0].astimezone(zeitzone).strftime("%d.%m."), "jetzt"],
        fontsize=8,
    )
    achse.tick_params(axis="y", labelsize=8)
    achse.yaxis.set_major_locator(MaxNLocator(integer=True))
    for seite in ("top", "right"):
        achse.spines[seite].set_visible(False)
    puffer = io.StringIO()
    # Ohne Metadaten (RDF mit Adressen, Datum): die Seite nennt keine fremde Adresse.
    figur.savefig(
        puffer, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None}
    )
    svg = puffer.getvalue()
    svg = svg[svg.index("<svg") :]  # ohne XML-Kopf und DOCTYPE: eingebettet in HTML
    jetzt = verlauf[-1]
    beschreibung = (
        f"Ampeln im Themenfeld {name} über {len(stichtage)} Wochen; jetzt "
        + ", ".join(f"{a.wort} {jetzt.ampeln[a]}" for a in Ampel)
        + f", ohne Meldung {jetzt.ohne_meldung}"
    )
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{Markup.escape(beschreibung)}" ', 1)
    return Markup(svg)


def schreibe_dashboard(ordner: Path, html: str) -> None:
    """Schreibt `ordner/index.html` atomar: neuer Ordner daneben, dann umbenannt."""
    ordner = ordner.resolve()
    ordner.parent.mkdir(parents=True, exist_ok=True)
    neu = ordner.with_name(f".{ordner.name}.neu-{os.getpid()}")
    alt = ordner.with_name(f".{ordner.name}.alt-{os.getpid()}")
    shutil.rmtree(neu, ignore_errors=True)
    neu.mkdir()
    try:
        (neu / "index.html").write_text(html, encoding="utf-8")
        if ordner.exists():
            ordner.rename(alt)
        neu.rename(ordner)
    except BaseException:
        shutil.rmtree(neu, ignore_errors=True)
        if alt.exists() and not ordner.exists():
            alt.rename(ordner)
        raise
    shutil.rmtree(alt, ignore_errors=True)


async def schreibe_aus_datenbank(
    url: str, ordner: Path, *, zeitzone: ZoneInfo, wochen: int, intern: bool
) -> None:
    """Stellt das Dashboard aus der Datenbank hinter `url` zusammen und schreibt es."""
    from modelle.dashboarddaten import stelle_dashboard_zusammen
    from modelle.datenbank import erzeuge_engine, erzeuge_sitzungsfabrik

    engine = erzeuge_engine(url)
    try:
        async with erzeuge_sitzungsfabrik(engine)() as sitzung:
            dashboard = await stelle_dashboard_zusammen(
                sitzung,
                jetzt=dt.datetime.now(dt.UTC),
                zeitzone=zeitzone,
                wochen=wochen,
                intern=intern,
            )
    finally:
        await engine.dispose()
    schreibe_dashboard(ordner, dashboard_html(dashboard, zeitzone))


def _haupt() -> None:
    """`python -m befehle.dashboardseite`: der kurze Prozess, in dem der laufende Bot sein
    Dashboard schreibt (`bot.dashboard`) – matplotlib und Jinja2 blieben sonst im Bot. Die
    Adresse der Datenbank kommt über die Standardeingabe (mit Passwort: nicht in die
    Befehlszeile, die jeder Nutzer des Rechners sieht)."""
    import argparse
    import asyncio
    import sys

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ausgabe", type=Path, required=True)
    parser.add_argument("--zeitzone", required=True)
    parser.add_argument("--wochen", type=int, required=True)
    parser.add_argument("--intern", action="store_true")
    argumente = parser.parse_args()
    asyncio.run(
        schreibe_aus_datenbank(
            sys.stdin.read().strip(),
            argumente.ausgabe,
            zeitzone=ZoneInfo(argumente.zeitzone),
            wochen=argumente.wochen,
            intern=argumente.intern,
        )
    )


if __name__ == "__main__":
    _haupt()
