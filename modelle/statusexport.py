"""Der Export der ganzen Statushistorie (`klimabot export`) als CSV oder JSON.

Das Format ist eine dokumentierte Schnittstelle für Klimadashboard und Klimabericht
(README, Abschnitt „Export der Statushistorie“): wer daran etwas ändert, erhöht
`FORMATVERSION`.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TextIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from modelle.berichtsdaten import austauschzeit
from modelle.tabellen import Person, Statusmeldung, Strategieprojekt, Themenfeld
from modelle.werte import Ampel, Quelle

# Die Version dieses Formats, unabhängig von der des Wochenberichts.
FORMATVERSION = 1

# Die Spalten der CSV-Datei und die Schlüssel je Meldung im JSON-Export, in dieser Reihenfolge.
EXPORT_SPALTEN = (
    "meldung_id",
    "zeitpunkt",
    "themenfeld",
    "themenfeld_name",
    "projekt",
    "projekt_titel",
    "ampel",
    "ampel_wort",
    "fortschritt",
    "text",
    "herausforderungen",
    "autor",
    "autor_matrix_id",
    "quelle",
    "event_id",
    "bearbeitet_am",
    "zurueckgezogen",
    "zurueckgezogen_am",
)


@dataclass(frozen=True, slots=True)
class Exportmeldung:
    """Eine Statusmeldung mit allem, was außerhalb des Bots über sie zu wissen ist."""

    meldung_id: int
    zeitpunkt: dt.datetime
    themenfeld_slug: str
    themenfeld_name: str
    projekt_slug: str
    projekt_titel: str
    ampel: Ampel
    fortschritt: int | None
    text: str
    herausforderungen: str | None
    autor: str | None
    autor_matrix_id: str | None
    quelle: Quelle
    event_id: str | None
    bearbeitet_am: dt.datetime | None
    zurueckgezogen: bool
    zurueckgezogen_am: dt.datetime | None

    def als_dict(self, zeitzone: dt.tzinfo) -> dict[str, Any]:
        """Schlüssel wie `EXPORT_SPALTEN`; Werte JSON-fähig (Zahlen, Wahrheitswerte, `None`)."""
        return {
            "meldung_id": self.meldung_id,
            "zeitpunkt": austauschzeit(self.zeitpunkt, zeitzone),
            "themenfeld": self.themenfeld_slug,
            "themenfeld_name": self.themenfeld_name,
            "projekt": self.projekt_slug,
            "projekt_titel": self.projekt_titel,
            "ampel": self.ampel.value,
            "ampel_wort": self.ampel.wort,
            "fortschritt": self.fortschritt,
            "text": self.text,
            "herausforderungen": self.herausforderungen,
            "autor": self.autor,
            "autor_matrix_id": self.autor_matrix_id,
            "quelle": self.quelle.value,
            "event_id": self.event_id,
            "bearbeitet_am": austauschzeit(self.bearbeitet_am, zeitzone),
            "zurueckgezogen": self.zurueckgezogen,
            "zurueckgezogen_am": austauschzeit(self.zurueckgezogen_am, zeitzone),
        }


async def statusmeldungen_fuer_export(
    sitzung: AsyncSession, *, je: int = 1000
) -> AsyncIterator[list[Exportmeldung]]:
    """Alle Statusmeldungen, auch zurückgezogene und die archivierter Projekte, zeitlich
    geordnet, in Portionen zu höchstens `je`.

    Eine Anweisung, deren Ergebnis portionsweise gelesen wird (PostgreSQL: serverseitiger
    Cursor): auch Hunderttausende Meldungen liegen nie alle zugleich im Speicher. Die
    Sitzung muss offen bleiben, bis alles gelesen ist.
    """
    abfrage = (
        select(
            Statusmeldung.id,
            Statusmeldung.zeitpunkt,
            Themenfeld.slug.label("themenfeld_slug"),
            Themenfeld.name.label("themenfeld_name"),
            Strategieprojekt.slug.label("projekt_slug"),
            Strategieprojekt.titel.label("projekt_titel"),
            Statusmeldung.ampel,
            Statusmeldung.fortschritt,
            Statusmeldung.text,
            Statusmeldung.herausforderungen,
            Person.anzeigename,
            Person.matrix_id,
            Statusmeldung.quelle,
            Statusmeldung.event_id,
            Statusmeldung.bearbeitet_am,
            Statusmeldung.zurueckgezogen,
            Statusmeldung.zurueckgezogen_am,
        )
        .join(Strategieprojekt, Strategieprojekt.id == Statusmeldung.projekt_id)
        .join(Themenfeld, Themenfeld.id == Strategieprojekt.themenfeld_id)
        .outerjoin(Person, Person.id == Statusmeldung.autor_id)
        .order_by(Statusmeldung.zeitpunkt, Statusmeldung.id)
        .execution_options(yield_per=je)
    )
    ergebnis = await sitzung.stream(abfrage)
    async for portion in ergebnis.partitions(je):
        yield [
            Exportmeldung(
                meldung_id=zeile.id,
                zeitpunkt=zeile.zeitpunkt,
                themenfeld_slug=zeile.themenfeld_slug,
                themenfeld_name=zeile.themenfeld_name,
                projekt_slug=zeile.projekt_slug,
                projekt_titel=zeile.projekt_titel,
                ampel=Ampel(zeile.ampel),
                fortschritt=zeile.fortschritt,
                text=zeile.text,
                herausforderungen=zeile.herausforderungen,
                autor=zeile.anzeigename,
                autor_matrix_id=zeile.matrix_id,
                quelle=Quelle(zeile.quelle),
                event_id=zeile.event_id,
                bearbeitet_am=zeile.bearbeitet_am,
                zurueckgezogen=bool(zeile.zurueckgezogen),
                zurueckgezogen_am=zeile.zurueckgezogen_am,
            )
            for zeile in portion
        ]


# Was eine Tabellenkalkulation am Anfang einer Zelle als Formel liest (CSV-Injektion): `=`, `+`,
# `-`, `@`, und Tab oder Wagenrücklauf davor. So wird aus einem Meldungstext wie
# `=HYPERLINK("https://…?"&A2; "Details")` beim Öffnen kein Aufruf nach außen.
_FORMELANFANG = ("=", "+", "-", "@", "\t", "\r")


def _csv_wert(wert: Any) -> str:
    if wert is None:
        return ""
    if isinstance(wert, bool):
        return "true" if wert else "false"
    if isinstance(wert, str) and wert.startswith(_FORMELANFANG):
        # Ein vorangestelltes ' macht die Zelle zu Text; im JSON-Export steht der Wert unverändert.
        return "'" + wert
    return str(wert)


async def schreibe_export(
    portionen: AsyncIterable[Sequence[Exportmeldung]],
    ziel: TextIO,
    *,
    format: Literal["csv", "json"],
    zeitzone: dt.tzinfo,
) -> int:
    """Schreibt die Meldungen Portion für Portion nach `ziel`; gibt ihre Zahl zurück.

    CSV nach RFC 4180 (Komma, Anführungszeichen bei Bedarf, UTF-8), Kopfzeile
    `EXPORT_SPALTEN`. JSON ein Objekt mit Formatangabe und der Liste `meldungen`, von Hand
    geklammert, damit nie die ganze Liste im Speicher liegt. Beides im README beschrieben.
    """
    anzahl = 0
    if format == "csv":
        schreiber = csv.writer(ziel)
        schreiber.writerow(EXPORT_SPALTEN)
        async for portion in portionen:
            for meldung in portion:
                zeile = meldung.als_dict(zeitzone)
                schreiber.writerow([_csv_wert(zeile[spalte]) for spalte in EXPORT_SPALTEN])
                anzahl += 1
        return anzahl
    kopf = {"format": "klimabot-statusmeldungen", "version": FORMATVERSION}
    ziel.write(json.dumps(kopf, ensure_ascii=False)[:-1] + ', "meldungen": [')
    async for portion in portionen:
        for meldung in portion:
            trenner = "," if anzahl else ""
            ziel.write(f"{trenner}\n  {json.dumps(meldung.als_dict(zeitzone), ensure_ascii=False)}")
            anzahl += 1
    ziel.write("\n]}\n")
    return anzahl
