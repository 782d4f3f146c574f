"""Kleine deutsche Schreibweisen: Alter einer Meldung, Ampel, Fortschritt, Datum, Anzahl,
Erwähnungen; wie viel Benutzertext eine Tabellenzelle zeigt."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from befehle.nachricht import HOECHSTENS_BYTES, Erwaehnung, Nachricht, Teil, gekuerzt_auf
from modelle.stand import Projektstand
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


def letzter_tag(bis: dt.datetime) -> dt.datetime:
    """Der letzte eingeschlossene Augenblick eines Zeitraums bis `bis` (ausschließlich): „bis
    21.11., 00:00 Uhr“ endet am 20.11."""
    return bis - dt.timedelta(microseconds=1)


def zeitraum(von: dt.datetime, bis: dt.datetime, zeitzone: ZoneInfo) -> str:
    """„01.01.2026 – 31.12.2026“ für den Zeitraum (`von`, `bis`]."""
    return f"{datum(von, zeitzone)} – {datum(letzter_tag(bis), zeitzone)}"


def zeitpunkt(wert: dt.datetime, zeitzone: ZoneInfo) -> str:
    return wert.astimezone(zeitzone).strftime("%d.%m.%Y, %H:%M Uhr")


# Alles, was in Markdown etwas bedeutet; `-`, `+` und `.` nur am Zeilenanfang, und dort
# steht bei uns nie Benutzertext.
_MD_SONDERZEICHEN = re.compile(r"([\\`*_\[\]<>|#~&!])")


def md_text(text: str) -> str:
    """`text` als Markdown, das genau diesen Text zeigt: eine Zeile, Sonderzeichen maskiert
    (Zeilenumbrüche würden Tabellenzeilen und Listenpunkte zerreißen)."""
    return _MD_SONDERZEICHEN.sub(r"\\\1", " ".join(text.splitlines()))


def anzahl(wert: int, einzahl: str, mehrzahl: str) -> str:
    """„1 Projekt“, „4 Projekte“, „0 Projekte“."""
    return f"{wert} {einzahl if wert == 1 else mehrzahl}"


@dataclass(frozen=True, slots=True)
class Zellbreite:
    """Wie viel Benutzertext eine Tabellenzelle oder Listenzeile zeigt, in Bytes (so gezählt
    wie `gekuerzt_auf`); der volle Text steht in `!verlauf` und `!status <projekt>`."""

    titel: int  # Titel eines Projekts
    text: int  # Meldungstext, Herausforderungen
    name: int  # Namen von Personen

    def titel_von(self, titel: str) -> str:
        return gekuerzt_auf(titel, self.titel)

    def text_von(self, text: str) -> str:
        return gekuerzt_auf(text, self.text)

    def name_von(self, name: str) -> str:
        return gekuerzt_auf(name, self.name)


# Von großzügig bis knapp. Die großzügige reicht für die üblichen Felder mit einer Handvoll
# Projekten; erst wenn eine Nachricht damit nicht in ein Matrix-Ereignis passt, kommen die
# knapperen dran. Gemessen (tests/test_groesse.py) an 43 Projekten – einem großen Feld – mit
# Meldungen größter Länge, 64 Zeichen langen Kürzeln, Titeln und Namen größter Länge, alles
# voller Emoji, Umlaute und `&`: `!status <feld>` passt mit der zweiten, das Feld im
# Wochenbericht (jedes Projekt ein Ampelwechsel und rot) mit der dritten; die vierte bleibt für
# Felder, deren Projekte zugleich überfällig oder neu sind, und für noch größere.
ZELLBREITEN = (
    Zellbreite(titel=200, text=400, name=100),
    Zellbreite(titel=100, text=160, name=60),
    Zellbreite(titel=60, text=80, name=40),
    Zellbreite(titel=40, text=40, name=24),
)
GROSSZUEGIG = ZELLBREITEN[0]


def passend(baue: Callable[[Zellbreite], Nachricht]) -> Nachricht:
    """Baut die Nachricht mit der großzügigsten Zellbreite, mit der sie in ein Ereignis passt."""
    for breite in ZELLBREITEN:
        nachricht = baue(breite)
        if nachricht.passt_in(HOECHSTENS_BYTES):
            break
    return nachricht


def erwaehnungen(personen: Sequence[PersonEintrag]) -> list[Teil]:
    """„Anna Becker, Fatma Yılmaz“ als Pills: Wer so genannt wird, steht in `m.mentions`."""
    teile: list[Teil] = []
    for stelle, person in enumerate(personen):
        if stelle:
            teile.append(", ")
        teile.append(Erwaehnung(person.matrix_id, GROSSZUEGIG.name_von(person.anzeigename)))
    return teile
