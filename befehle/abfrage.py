"""Die geplanten Nachrichten an ein Themenfeld: Abfrage und Erinnerung.

Eine Abfrage besteht aus einem Kopf, der die Zuständigen erwähnt, und je Projekt einer
eigenen Zeile (einem eigenen Ereignis im Thread des Kopfs). So lässt sich jede Zeile für
sich beantworten: mit einer Antwort im Thread oder einem Tipp auf 🟢 🟡 🔴 ✅. Titel und
Namen werden gekürzt wie in Tabellen (`schreibweise.GROSSZUEGIG`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from befehle import schreibweise
from befehle.nachricht import Code, Erwaehnung, Fett, Kursiv, Nachricht, Teil
from befehle.schreibweise import GROSSZUEGIG
from modelle.stand import Projektstand
from modelle.verzeichnis import FeldEintrag, PersonEintrag

VERSPAETET = "Diese Abfrage kommt verspätet: der Klimabot war zur geplanten Zeit nicht erreichbar."


def abfrage_kopf(
    feld: FeldEintrag,
    zustaendige: Sequence[PersonEintrag],
    *,
    praefix: str,
    verspaetet: bool = False,
) -> Nachricht:
    nachricht = Nachricht().absatz(Fett(f"📋 Fortschrittsabfrage Themenfeld {feld.name}"))
    if zustaendige:
        nachricht.absatz(
            [
                *schreibweise.erwaehnungen(zustaendige),
                ": wie stehen Ihre Strategieprojekte? Je Projekt folgt eine Zeile im Thread.",
            ]
        )
    if verspaetet:
        nachricht.absatz(Kursiv(VERSPAETET))
    nachricht.absatz(
        "Antworten Sie im Thread auf die Zeile eines Projekts, z. B. „gelb, 40 %, "
        "Ausschreibung verzögert sich“ – oder tippen Sie 🟢 🟡 🔴 ✅ darunter, wenn sich "
        "nur die Ampel bestätigt.",
        ["Oder per Befehl: ", Code(f"{praefix}meldung <projekt> <ampel> [fortschritt %] [text]")],
    )
    return nachricht


def abfrage_zeile(stand: Projektstand, jetzt: dt.datetime, zeitzone: ZoneInfo) -> Nachricht:
    wann = schreibweise.meldungsalter(stand, jetzt, zeitzone)
    zeile: list[Teil] = [
        f"{schreibweise.ampel(stand.ampel)} ",
        Fett(GROSSZUEGIG.titel_von(stand.projekt_titel)),
        f" ({stand.projekt_slug}) · {schreibweise.fortschritt(stand.fortschritt)} · "
        + (wann if stand.ist_anfangsstand else f"letzte Meldung {wann}"),
    ]
    return Nachricht().absatz(zeile)


def erinnerung(
    stand: Projektstand,
    zustaendige: Sequence[PersonEintrag],
    *,
    jetzt: dt.datetime,
    zeitzone: ZoneInfo,
    nummer: int,
) -> Nachricht:
    """Erinnerung im Raum des Themenfelds; sie trägt den Projektbezug, also kann man antworten."""
    wann = schreibweise.alter(stand.zeitpunkt, jetzt, zeitzone)
    nachricht = Nachricht().absatz(
        [
            f"⏰ Erinnerung{' (2.)' if nummer >= 2 else ''}: ",
            Fett(GROSSZUEGIG.titel_von(stand.projekt_titel)),
            f" ({stand.projekt_slug}) hat seit {wann.removeprefix('vor ')} keine Meldung"
            if stand.zeitpunkt
            else f" ({stand.projekt_slug}) hat noch keine Meldung",
            ".",
        ]
    )
    if zustaendige:
        nachricht.absatz(
            [*schreibweise.erwaehnungen(zustaendige), ": bitte kurz den Stand melden."]
        )
    nachricht.absatz(
        "Antwort auf diese Nachricht genügt, z. B. „grün, 60 %, läuft nach Plan“, "
        "oder ein Tipp auf 🟢 🟡 🔴 ✅."
    )
    return nachricht


def erinnerung_direkt(
    stand: Projektstand,
    feld: FeldEintrag,
    patin: PersonEintrag,
    *,
    jetzt: dt.datetime,
    zeitzone: ZoneInfo,
) -> Nachricht:
    """Die persönliche Nachricht an die Pat*in nach zwei unbeantworteten Erinnerungen.

    Die Anrede erwähnt sie: So pingt die Nachricht auch, wenn sie den Direktraum auf „nur
    Erwähnungen“ gestellt hat.
    """
    wann = schreibweise.alter(stand.zeitpunkt, jetzt, zeitzone)
    seit = f"seit {wann.removeprefix('vor ')}" if stand.zeitpunkt else "noch nie"
    return Nachricht().absatz(
        [
            "Guten Tag ",
            Erwaehnung(patin.matrix_id, GROSSZUEGIG.name_von(patin.anzeigename)),
            ", zum Strategieprojekt ",
            Fett(GROSSZUEGIG.titel_von(stand.projekt_titel)),
            f" im Themenfeld {feld.name} gab es {seit} keine Statusmeldung, auch nach zwei "
            "Erinnerungen im Raum des Themenfelds nicht.",
        ],
        "Eine Antwort hier genügt, z. B. „gelb, 40 %, Ausschreibung verzögert sich“, oder ein "
        "Tipp auf 🟢 🟡 🔴 ✅. Danke!",
    )
