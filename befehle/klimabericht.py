"""Das Kapitel für den Klimabericht (`klimabot bericht --format html|md`): druckfertiges HTML
oder Markdown, die Diagramme als Bilddateien daneben.

`DATEI.html` bzw. `DATEI.md` und der Ordner `DATEI-bilder/` mit einem Verlauf aller
Themenfelder und je Feld einem, jeweils als SVG und PNG: Das HTML zeigt SVG (scharf im Druck),
das Markdown PNG (das nehmen auch Textverarbeitungen, in die das Kapitel meist weitergeht).
Beide Formen rendern Vorlagen
aus `vorlagen/`; das HTML erbt Rahmen, Druckstil und Ampel vom Klimadashboard
(`befehle.seiten`).

Geschrieben wird atomar: erst der Bilderordner, dann die Datei, beide über eine Kopie daneben.
Wer die alte Fassung offen hat, sieht sie, bis die neue vollständig ist.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from befehle import schreibweise
from befehle.seiten import beschreibung, ersetze_atomar, kurzdatum, umgebung, verlaufsbild
from modelle.berichtsdaten import Ampelzaehlung
from modelle.klimabericht import Klimaberichtkapitel
from modelle.werte import Ampel

Kapitelformat = Literal["html", "md"]
# Bildformat je Kapitelformat (siehe oben).
_BILDFORMAT: dict[Kapitelformat, Literal["svg", "png"]] = {"html": "svg", "md": "png"}
# So viele Beschriftungen trägt die x-Achse höchstens; die übrigen Säulen bleiben ohne.
_HOECHSTENS_BESCHRIFTET = 7
_GROESSE = (6.4, 2.2)


@dataclass(frozen=True, slots=True)
class Bild:
    # Relativ zur Kapiteldatei, mit `/`: so steht er in HTML und Markdown.
    pfad: str
    # Was das Bild zeigt, in Worten (alt-Text).
    text: str


@dataclass(frozen=True, slots=True)
class Bilder:
    gesamt: Bild | None = None
    felder: dict[str, Bild] = field(default_factory=dict)


def bilderordner(datei: Path) -> Path:
    return datei.with_name(f"{datei.stem}-bilder")


def kapitel_text(
    kapitel: Klimaberichtkapitel,
    zeitzone: ZoneInfo,
    format: Kapitelformat,
    *,
    bilder: Bilder | None = None,
    erstellt: dt.datetime | None = None,
) -> str:
    """Das Kapitel als HTML oder Markdown; `bilder` verweist auf die Diagramme (ohne: keine)."""
    vorlage = umgebung(zeitzone).get_template(f"klimabericht.{format}.j2")
    erstellt = erstellt or dt.datetime.now(dt.UTC)
    return vorlage.render(
        kapitel=kapitel,
        zeitraum=schreibweise.zeitraum(kapitel.von, kapitel.bis, zeitzone),
        vom_bis=_vom_bis(kapitel, zeitzone),
        verlauf_takt="zu jedem Monatsanfang" if kapitel.monatsweise else "Woche für Woche",
        erstellt=schreibweise.zeitpunkt(erstellt, zeitzone),
        bilder=bilder or Bilder(),
    )


def schreibe_kapitel(
    kapitel: Klimaberichtkapitel, datei: Path, format: Kapitelformat, zeitzone: ZoneInfo
) -> list[Path]:
    """Schreibt `datei` und ihre Diagramme in `DATEI-bilder/`; gibt alle geschriebenen Pfade
    zurück, die Kapiteldatei zuerst."""
    datei = datei.resolve()
    ordner = bilderordner(datei)
    inhalte: dict[str, bytes] = {}
    vom_bis = _vom_bis(kapitel, zeitzone)
    beschriftungen = _beschriftungen(kapitel, zeitzone)

    def bild(name: str, gegenstand: str, verlauf: tuple[Ampelzaehlung, ...]) -> Bild:
        # Beide Bildformate, gleich welches Kapitelformat: HTML und Markdown desselben
        # Namens teilen sich den Ordner, und keins soll dem anderen die Bilder nehmen.
        for endung in ("svg", "png"):
            inhalte[f"ampeln-{name}.{endung}"] = verlaufsbild(
                verlauf, beschriftungen, format=endung, groesse=_GROESSE
            )
        return Bild(
            pfad=f"{ordner.name}/ampeln-{name}.{_BILDFORMAT[format]}",
            text=beschreibung(gegenstand, verlauf, vom_bis),
        )

    bilder = Bilder(
        gesamt=bild("gesamt", "aller Themenfelder", _summe(kapitel)) if kapitel.felder else None,
        felder={f.slug: bild(f.slug, f"im Themenfeld {f.name}", f.verlauf) for f in kapitel.felder},
    )
    text = kapitel_text(kapitel, zeitzone, format, bilder=bilder)

    def bilder_fuellen(neu: Path) -> None:
        neu.mkdir()
        for name, inhalt in inhalte.items():
            (neu / name).write_bytes(inhalt)

    ersetze_atomar(ordner, bilder_fuellen)
    ersetze_atomar(datei, lambda neu: neu.write_text(text, encoding="utf-8"))
    return [datei, *(ordner / name for name in inhalte)]


def _vom_bis(kapitel: Klimaberichtkapitel, zeitzone: ZoneInfo) -> str:
    """„vom 01.01.2026 bis 31.12.2026“: der Zeitraum mitten im Satz."""
    bis = schreibweise.letzter_tag(kapitel.bis)
    return (
        f"vom {schreibweise.datum(kapitel.von, zeitzone)} bis {schreibweise.datum(bis, zeitzone)}"
    )


def _beschriftungen(kapitel: Klimaberichtkapitel, zeitzone: ZoneInfo) -> dict[int, str]:
    # Vom Ende aus jede k-te Säule, dazu die erste: Anfang und Ende stehen immer da.
    anzahl = len(kapitel.stichtage)
    schritt = max(1, math.ceil(anzahl / _HOECHSTENS_BESCHRIFTET))
    indizes = {0, *range(anzahl - 1, 0, -schritt)}
    if schritt > 1 and 0 < min(indizes - {0}, default=anzahl) < schritt // 2 + 1:
        indizes.discard(min(indizes - {0}))  # zu nah an der ersten
    beschriftungen = {i: kurzdatum(kapitel.stichtage[i], zeitzone) for i in sorted(indizes)}
    # Der letzte Stichtag ist Mitternacht nach dem letzten Tag: beschriftet wird dieser Tag.
    if anzahl:
        beschriftungen[anzahl - 1] = kurzdatum(schreibweise.letzter_tag(kapitel.bis), zeitzone)
    return beschriftungen


def _summe(kapitel: Klimaberichtkapitel) -> tuple[Ampelzaehlung, ...]:
    return tuple(
        Ampelzaehlung(
            ampeln={a: sum(f.verlauf[i].ampeln[a] for f in kapitel.felder) for a in Ampel},
            ohne_meldung=sum(f.verlauf[i].ohne_meldung for f in kapitel.felder),
        )
        for i in range(len(kapitel.stichtage))
    )
