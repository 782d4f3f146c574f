"""Kleine deutsche Darstellungen: Alter einer Meldung, Ampel, Fortschritt, Datum, Erwähnungen."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from befehle.darstellung import Erwaehnung, Teil
from modelle.abfragen import Projektstand
from modelle.verzeichnis import PersonEintrag
from modelle.werte import Ampel


def alter(zeitpunkt: dt.datetime | None, jetzt: dt.datetime, zeitzone: ZoneInfo) -> str:
    """„heute“, „gestern“, „vor 3 Tagen“, „vor 2 Wochen“ – nach Kalendertagen vor Ort."""
    if zeitpunkt is None:
        return "noch nie"
    tage = (jetzt.astimezone(zeitzone).date() - zeitpunkt.astimezone(zeitzone).date()).days
    if tage <= 0:
        return "heute"
    if tage == 1:
        return "gestern"
    if tage < 14:
        return f"vor {tage} Tagen"
    if tage < 60:
        return f"vor {tage // 7} Wochen"
    if tage < 730:
        return f"vor {tage // 30} Monaten"
    return f"vor {tage // 365} Jahren"


def meldungsalter(stand: Projektstand, jetzt: dt.datetime, zeitzone: ZoneInfo) -> str:
    """Wie alt die letzte Meldung ist – ein Anfangsstand aus der Strukturdatei ist keine."""
    if stand.ist_anfangsstand:
        return "Anfangsstand"
    return alter(stand.zeitpunkt, jetzt, zeitzone)


def ampel(wert: Ampel | None) -> str:
    return f"{wert.emoji} {wert.wort}" if wert is not None else "⚪ ohne Meldung"


def fortschritt(wert: int | None) -> str:
    return f"{wert} %" if wert is not None else "–"


def datum(wert: dt.date | dt.datetime, zeitzone: ZoneInfo) -> str:
    if isinstance(wert, dt.datetime):
        wert = wert.astimezone(zeitzone).date()
    return wert.strftime("%d.%m.%Y")


def zeitpunkt(wert: dt.datetime, zeitzone: ZoneInfo) -> str:
    return wert.astimezone(zeitzone).strftime("%d.%m.%Y, %H:%M Uhr")


def anzahl(wert: int, einzahl: str, mehrzahl: str) -> str:
    """„1 Projekt“, „4 Projekte“, „0 Projekte“."""
    return f"{wert} {einzahl if wert == 1 else mehrzahl}"


def erwaehnungen(personen: Sequence[PersonEintrag]) -> list[Teil]:
    """„Anna Becker, Fatma Yılmaz“ als Pills: Wer so genannt wird, steht in `m.mentions`."""
    teile: list[Teil] = []
    for stelle, person in enumerate(personen):
        if stelle:
            teile.append(", ")
        teile.append(Erwaehnung(person.matrix_id, person.anzeigename))
    return teile
