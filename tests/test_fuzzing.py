"""Fuzzing: Was auch immer in einem Raum ankommt, der Bot stürzt nicht ab und antwortet sauber.

Erzeugt werden rohe Matrix-Ereignisse – beliebiger Unicode-Text, 100-kB-Argumente, HTML- und
Markdown-Injektion, unsichtbare und Richtungszeichen, kaputte Inhalte und Umschläge, unmögliche
Zeitstempel. Echte Befehlsnamen, Themenfelder, Projekte, Ampeln und Personen mit Rollen sind oft
beigemischt, damit Handler und Schnellmeldungen (Antwort, Thread, Reaktion, Bearbeiten,
Löschen) wirklich erreicht werden. Geprüft wird auf zwei Ebenen:

- Ganze Verarbeitung: Serien von Ereignissen gehen wie von der Sync-Schleife durch
  `Ereignis.aus_json` und die echte `Verarbeitung` auf einer echten, migrierten Datenbank; der
  Ausgangskorb stellt an den Rekorder zu. Danach gilt: keine Ausnahme, nichts im
  Fehlerprotokoll, kein „Interner Fehler“, jede Sendung passt in ein Matrix-Ereignis, ihr HTML
  besteht nur aus den Bausteinen von `befehle.nachricht`, niemand wird wegen fremden Texts
  angepingt.
- Ohne Datenbank: dieselben Ereignisse durch jeden Parser, die Suche und die Darstellung. Ein
  Ereignis durch die ganze Verarbeitung kostet ~5–15 ms (Transaktion, Verzeichnis, Handler,
  Ausgangskorb, Zustellen), hier ~1 ms; so passen viele in den Testlauf.

Hypothesis wählt je Ereignis die Art und eine Saat, `_Erzeuger` baut daraus das Ereignis: zwei
Entscheidungen statt ~40 (Hypothesis braucht hier ~0,1 ms je Entscheidung). Verkleinert wird
trotzdem – Hypothesis macht jedes Ereignis, das für den Fehler nicht nötig ist, zur Plauderei –,
und die Meldung nennt das auslösende Ereignis.

Im CI: `SERIEN` (200) Serien zu `SERIE` (50) Ereignissen, also 10 000 durch die ganze
Verarbeitung (~90 s), dazu `BEISPIELE` (40) Beispiele zu `TEXTE` (200) ohne Datenbank, weitere
8 000, mit fester Saat (`derandomize`): jeder Lauf prüft dieselben. Mit PostgreSQL dazu wenige
Serien dort.
Gründlicher, mit neuer Saat bei jedem Lauf (ein Fehlschlag nennt dann einen
`@reproduce_failure`-Schlüssel zum Nachstellen):

    KLIMABOT_FUZZ_BEISPIELE=400 .venv/bin/pytest tests/test_fuzzing.py
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import random
import shutil
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from befehle import alle_befehle
from befehle.grundlagen import Argumentfehler, Benutzerfehler, Registratur
from befehle.meldungsleser import MAX_TEXT, lies_meldungsinhalt
from befehle.nachricht import Code, Fett, Kursiv, Nachricht
from befehle.suche import finde_feld_oder_projekt
from bot.ereignis import Ereignis
from bot.inhalt import MAX_INHALT_BYTES, nachrichteninhalt
from bot.inhalt import PROJEKTE as PROJEKTBEZUG
from modelle.datenbank import erzeuge_engine, erzeuge_sitzungsfabrik
from modelle.strukturdatei import lies_struktur
from modelle.strukturimport import importiere_struktur
from modelle.tabellen import Ausgang
from modelle.verzeichnis import Verzeichnis, lade_verzeichnis
from modelle.werte import Ampel
from tests import datenbanken
from tests.strukturen import BEISPIEL
from tests.testbot import (
    AUSSENSTEHENDE,
    BOT,
    KOORDINATION_ENERGIE,
    PATIN_ENERGIE,
    PATIN_MOBILITAET,
    RAUM_ENERGIE,
    RAUM_MOBILITAET,
    RAUM_STABSSTELLE,
    STABSSTELLE,
    Gesendet,
    Testbot,
)

NOTBEHELF = "Die Antwort wäre zu lang für eine Nachricht."
_VARIABLE = "KLIMABOT_FUZZ_BEISPIELE"
_GESETZT = os.environ.get(_VARIABLE)
STANDARD_BEISPIELE = 40
BEISPIELE = int(_GESETZT) if _GESETZT else STANDARD_BEISPIELE
SERIE = 50  # Ereignisse je Serie durch die ganze Verarbeitung
SERIEN = 5 * BEISPIELE  # Serien durch die ganze Verarbeitung (SQLite)
TEXTE = 200  # Nachrichten je Beispiel ohne Datenbank

STRUKTUR = lies_struktur(BEISPIEL)
PERSONEN = tuple(p.matrix_id for p in STRUKTUR.personen)

# --- Zutaten: was Menschen (und Angreifer) schreiben -----------------------------------------

BEFEHLSNAMEN = tuple(n for b in alle_befehle() for n in (b.name, *b.aliase))
FELDER = tuple(n for f in STRUKTUR.themenfelder for n in (f.slug, f.name, *f.aliase))
PROJEKTE = tuple(p.slug for p in STRUKTUR.projekte)
NAMEN = FELDER + PROJEKTE + tuple(a for p in STRUKTUR.projekte for a in p.aliase)
AMPELN = (*(a.wort for a in Ampel), *(a.emoji for a in Ampel), "gruen", "GRÜN", "Gelb,", "fertig")
FORTSCHRITTE = ("40%", "40 %", "0 Prozent", "100%", "101 %", "9999%", "-5%", "4,5 %", "٤٠%")
# Zahlen, auch solche, an denen `int()` scheitert (mehr als 4300 Ziffern)
ZAHLEN = ("0", "1", "20", "21", "-3", "٤٠", "²", "½", "1e9", "9" * 5000, "1" + "0" * 4400)
ZEITPLAENE = ("mo 09:00", "mo,do 09:30", "mo-fr 10:00", "täglich 10:00", "30 8 * * 1", "vorgabe")
INJEKTIONEN = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "</code>",
    "</td></tr></table><script>",
    "<!-- ",
    "<![CDATA[",
    '"><svg onload=alert(1)>',
    "<mx-reply>",
    '<font color="red">',
    "[x](javascript:alert(1))",
    "**fett**",
    "`",
    "```",
    "_kursiv_",
    "&lt;",
    "&amp;",
    "&#60;script&#62;",
    "@room",
    "Herausforderung:",
    "> zitat\n",
)
UNSICHTBAR = ("\u200b", "\u200d", "\ufeff", "\u202e", "\u2067", "\u2069", "\u00ad", "\u034f")
SONDERZEICHEN = (
    *UNSICHTBAR,
    "\x00",
    "\n",
    "\r\n",
    "\t",
    "\u2028",
    "e\u0301",
    "👩‍👩‍👧",
    "\U0010ffff",
)
TRENNER = (" ", " ", " ", "", "\n", ", ", *UNSICHTBAR)
ZUTATEN = (
    *BEFEHLSNAMEN,
    *NAMEN,
    *AMPELN,
    *FORTSCHRITTE,
    *ZAHLEN,
    *ZEITPLAENE,
    *INJEKTIONEN,
    *SONDERZEICHEN,
)
LAENGEN = (2_001, 4_001, 10_000, 65_536, 100_000)
RAEUME = (RAUM_ENERGIE, RAUM_MOBILITAET, RAUM_STABSSTELLE)
MIT_ROLLE = (PATIN_ENERGIE, KOORDINATION_ENERGIE, PATIN_MOBILITAET, STABSSTELLE)
# Die Projekte, für die jemand melden darf: so landen Meldungen oft wirklich in der Datenbank.
MELDEPROJEKTE = {
    p.matrix_id: tuple(
        projekt.slug
        for projekt in STRUKTUR.projekte
        if p.stabsstelle or projekt.themenfeld in (*p.patin, *p.koordination)
    )
    for p in STRUKTUR.personen
}
# Werte vom falschen Typ; `_Erzeuger.falscher_typ` schachtelt sie auch.
FALSCHE_WERTE: tuple[Any, ...] = (None, True, False, 0, -1, 2**64, 1.5, float("nan"), "", [], {})
# Am Rand dessen, was ein Homeserver setzen kann – und was `datetime` noch darstellt.
ZEITSTEMPEL = (
    0,
    -1,
    946_684_800_000,  # 01.01.2000
    7_258_118_399_999,  # 31.12.2199
    253_402_300_799_999,
    253_402_300_800_000,
    -62_135_596_800_000,
    2**63 - 1,
)

# Die Arten von Ereignissen; die erste ist das, worauf Hypothesis beim Verkleinern alles
# Unbeteiligte zurückführt. Wiederholungen gewichten.
ARTEN = (
    "plauderei",
    "befehl",
    "befehl",
    "befehl",
    "meldung",
    "meldung",
    "antwort",
    "antwort",
    "reaktion",
    "reaktion",
    "bearbeitung",
    "bearbeitung",
    "loeschung",
    "kaputter_inhalt",
    "kaputter_umschlag",
    "fremder_typ",
)
# Arten, die sich auf eine Nachricht des Bots beziehen: davor wird zugestellt.
MIT_BOTBEZUG = frozenset(
    {"antwort", "reaktion", "bearbeitung", "loeschung", "kaputter_inhalt", "kaputter_umschlag"}
)


def _zufall(nummer: int, saat: int) -> random.Random:
    # Hypothesis zieht kleine und Randwerte oft (0 allein in jedem zehnten Ereignis); mit der
    # Stelle in der Serie vermischt, wird trotzdem jedes Ereignis ein anderes.
    return random.Random(f"{nummer}/{saat}")


@dataclass
class _Erzeuger:
    """Baut aus Art und Saat ein rohes Ereignis; gleiche Eingaben, gleiches Ereignis."""

    r: random.Random
    bot_nachrichten: list[tuple[str, int]]  # (Event-ID, Zahl der genannten Projekte)
    fruehere: list[tuple[str, str, str]]  # (Event-ID, Absender, Art) der bisherigen Ereignisse
    gemeldet: list[tuple[str, str, str]]  # die davon, zu denen der Bot eine Meldung speicherte
    # Worauf sich eine Bearbeitung oder Löschung bezieht; sie kommt meist von dessen Absender.
    ziel: tuple[str, str, str] | None = None

    def ja(self, wahrscheinlichkeit: float = 0.5) -> bool:
        return self.r.random() < wahrscheinlichkeit

    def wahl(self, folge: tuple[Any, ...] | list[Any]) -> Any:
        return self.r.choice(folge)

    # Text

    def zeichen(self) -> str:
        match self.r.randrange(4):
            case 0:
                return chr(self.r.randrange(0x80))
            case 1:
                return str(self.wahl(SONDERZEICHEN))
            case 2:
                punkt = self.r.randrange(0x80, 0x10000)
            case _:
                punkt = self.r.randrange(0x10000, 0x110000)
        # Surrogate sind kein gültiges UTF-8 und kommen in keinem JSON des Homeservers vor.
        return chr(punkt) if not 0xD800 <= punkt <= 0xDFFF else "\ufffd"

    def unicode(self, hoechstens: int = 12) -> str:
        return "".join(self.zeichen() for _ in range(self.r.randint(0, hoechstens)))

    def kennung(self) -> str:
        """Beliebiger Text als Matrix-ID: die Spezifikation schließt nur das Nullzeichen aus."""
        return self.unicode(20).replace("\x00", "")

    def zutat(self) -> str:
        return self.unicode() if self.ja(0.3) else str(self.wahl(ZUTATEN))

    def freitext(self) -> str:
        trenner = self.wahl(TRENNER)
        return str(trenner).join(self.zutat() for _ in range(self.r.randint(0, 5)))

    def langtext(self) -> str:
        baustein = self.freitext() or "x"
        laenge: int = self.wahl(LAENGEN)
        return (baustein * (laenge // len(baustein) + 1))[:laenge]

    def argument(self) -> str:
        return self.langtext() if self.ja(0.15) else self.freitext()

    def verziert(self, wort: str) -> str:
        """Ein echtes Wort, manchmal in Großbuchstaben oder mit unsichtbarem Zeichen darin."""
        match self.r.randrange(10):
            case 0:
                return wort.upper()
            case 1:
                stelle = self.r.randint(0, len(wort))
                return wort[:stelle] + str(self.wahl(SONDERZEICHEN)) + wort[stelle:]
            case _:
                return wort

    # Nachrichtentexte

    def befehl(self) -> str:
        if self.ja(0.15):  # Antworten mit Projektbezug, auf die man antworten und reagieren kann
            return f"!{self.wahl(('status', 'verlauf', 'projekte'))} {self.wahl(NAMEN)}"
        if self.ja(0.1):  # ein Befehl ohne Angaben, ganz wie im Handbuch
            return f"!{self.wahl(('bericht', 'themen', 'zeitplan', 'status', 'wer', 'hilfe'))}"
        name = self.argument() if self.ja(0.1) else self.verziert(self.wahl(BEFEHLSNAMEN))
        angabe = self.verziert(self.wahl((*NAMEN, *ZEITPLAENE))) if self.ja(0.6) else ""
        rest = self.argument() if self.ja(0.4) else ""
        praefix = self.wahl(("!", "!", "!", "!", " !", "!!", "\u200b!", "! "))
        return f"{praefix}{name} {angabe} {rest}"

    def meldungstext(self) -> str:
        """`gelb, 40 %, Text Herausforderung: …` mit allerlei Beimischungen."""
        ampel = self.verziert(self.wahl(AMPELN)) if self.ja(0.85) else self.freitext()
        fortschritt = self.wahl(FORTSCHRITTE) if self.ja(0.5) else ""
        text = self.argument()
        herausforderung = f" Herausforderung: {self.argument()}" if self.ja(0.3) else ""
        trenner = self.wahl((" ", ", ", " ", ", ", "\u200b "))
        return f"{ampel}{trenner}{fortschritt}{trenner}{text}{herausforderung}"

    def meldebefehl(self, absender: str | None = None) -> str:
        eigene = MELDEPROJEKTE.get(absender or "", ())
        if eigene and self.ja(0.7):
            projekt = self.wahl(eigene)
        else:
            projekt = self.verziert(self.wahl(PROJEKTE)) if self.ja(0.8) else self.wahl(NAMEN)
        return f"!{self.wahl(('meldung', 'melden'))} {projekt} {self.meldungstext()}"

    def koerper(self) -> str:
        """Irgendein `body`: Befehl, Meldung, Schnellmeldung, Zitat oder Plauderei."""
        match self.r.randrange(6):
            case 0:
                return self.argument()
            case 1:
                return self.meldebefehl()
            case 2:
                return self.meldungstext()
            case 3:
                return f"{self.wahl(PROJEKTE)} {self.meldungstext()}"
            case 4:
                # wie alte Clients eine Antwort mit Zitat einleiten
                return f"> <{self.wahl(PERSONEN)}> {self.freitext()}\n\n{self.meldungstext()}"
            case _:
                return self.befehl()

    # Bezüge und Unfug

    def bot_nachricht(self, einzeln: bool = False) -> str:
        """Meist eine neuere Bot-Nachricht, die Projekte nennt (dort wirken Schnellmeldungen).

        `einzeln`: lieber eine mit genau einem Projekt – nur dort zählt eine Reaktion.
        """
        mit_projekten = [e for e, n in self.bot_nachrichten if n == 1 or (n and not einzeln)]
        alle = [e for e, _ in self.bot_nachrichten]
        kandidaten = mit_projekten if mit_projekten and self.ja(0.75) else alle
        if not kandidaten:
            return "$unbekannt"
        return str(kandidaten[-1 - min(self.r.randrange(4), len(kandidaten) - 1)])

    def frueheres(self) -> tuple[str, str, str]:
        """Meist ein früheres Ereignis, aus dem eine Meldung wurde."""
        kandidaten = self.gemeldet if self.gemeldet and self.ja(0.75) else self.fruehere
        if not kandidaten:
            return ("$unbekannt", AUSSENSTEHENDE, "")
        return kandidaten[-1 - min(self.r.randrange(4), len(kandidaten) - 1)]

    def falscher_typ(self, tiefe: int = 2) -> Any:
        if tiefe and self.ja(0.25):
            if self.ja():
                return [self.falscher_typ(tiefe - 1) for _ in range(self.r.randint(0, 3))]
            return {
                self.unicode(4): self.falscher_typ(tiefe - 1) for _ in range(self.r.randint(0, 3))
            }
        return self.wahl(FALSCHE_WERTE) if self.ja(0.8) else self.r.randint(-(2**70), 2**70)

    def absender(self, art: str) -> str:
        if self.ziel is not None and self.ja(0.8):
            return self.ziel[1]  # meist bearbeitet und löscht, wer es geschrieben hat
        if art == "befehl" and self.ja(0.2):
            return STABSSTELLE  # die Einzige, die `!bericht` und `!zeitplan … <neu>` darf
        if self.ja(0.8 if art in ("meldung", "antwort", "reaktion") else 0.6):
            return str(self.wahl(MIT_ROLLE))
        return str(self.wahl((AUSSENSTEHENDE, AUSSENSTEHENDE, BOT, "@x:y", "", self.kennung())))

    # Ereignisse

    def inhalt(self, art: str, absender: str) -> tuple[str, Any]:
        text: dict[str, Any] = {"msgtype": self.wahl(("m.text", "m.text", "m.notice", "m.emote"))}
        match art:
            case "plauderei":
                return "m.room.message", {**text, "body": self.freitext()}
            case "befehl":
                return "m.room.message", {**text, "body": self.befehl()}
            case "meldung":
                return "m.room.message", {**text, "body": self.meldebefehl(absender)}
            case "antwort":
                ziel = self.bot_nachricht()
                bezug: dict[str, Any] = {"m.in_reply_to": {"event_id": ziel}}
                if self.ja():
                    bezug = {
                        "rel_type": "m.thread",
                        "event_id": ziel,
                        "is_falling_back": self.ja(),
                        "m.in_reply_to": {"event_id": ziel},
                    }
                if self.ja(0.6):
                    body = self.meldungstext()
                    if self.ja(0.4):
                        body = f"{self.wahl(MELDEPROJEKTE.get(absender) or PROJEKTE)} {body}"
                else:
                    body = self.koerper()
                return "m.room.message", {**text, "body": body, "m.relates_to": bezug}
            case "reaktion":
                schluessel = (
                    self.wahl((*AMPELN, "✅", "👍", "")) if self.ja(0.8) else self.argument()
                )
                ziel = self.bot_nachricht(einzeln=True) if self.ja(0.8) else self.frueheres()[0]
                bezug = {"rel_type": "m.annotation", "event_id": ziel, "key": schluessel}
                return "m.reaction", {"m.relates_to": bezug}
            case "bearbeitung":
                # Meist so, wie die Meldung entstand: als Befehl oder als Antwort
                art_des_ziels = self.ziel[2] if self.ziel else ""
                if art_des_ziels == "meldung" and self.ja(0.6):
                    neu = self.meldebefehl(absender)
                elif art_des_ziels == "antwort" and self.ja(0.6):
                    neu = self.meldungstext()
                else:
                    neu = self.koerper()
                ziel = self.ziel[0] if self.ziel else self.bot_nachricht()
                return "m.room.message", {
                    **text,
                    "body": f"* {neu}",
                    "m.new_content": {"msgtype": "m.text", "body": neu},
                    "m.relates_to": {"rel_type": "m.replace", "event_id": ziel},
                }
            case "loeschung":
                ziel = self.ziel[0] if self.ziel else self.bot_nachricht()
                return "m.room.redaction", {"redacts": ziel} if self.ja() else {}
            case "kaputter_inhalt":
                return "m.room.message", self.kaputter_inhalt(text)
            case _:
                return self.wahl(("m.room.member", "m.sticker", "m.room.encrypted", "x")), {
                    self.unicode(4): self.falscher_typ() for _ in range(self.r.randint(0, 3))
                }

    def kaputter_inhalt(self, text: dict[str, Any]) -> Any:
        """Was ein fehlerhafter Client oder fremder Server schicken könnte."""
        match self.r.randrange(8):
            case 0:
                return self.falscher_typ()  # Inhalt ist kein Objekt
            case 1:
                return text  # ohne body
            case 2:
                return {**text, "body": self.falscher_typ()}
            case 3:
                bezug = self.wahl(("m.thread", "m.replace", "m.annotation", self.falscher_typ()))
                return {
                    **text,
                    "body": self.koerper(),
                    "m.relates_to": {"rel_type": bezug, "event_id": self.falscher_typ()},
                }
            case 4:
                return {**text, "body": self.koerper(), "m.relates_to": self.falscher_typ()}
            case 5:
                return {
                    **text,
                    "body": self.koerper(),
                    "m.relates_to": {"m.in_reply_to": self.falscher_typ()},
                }
            case 6:
                return {
                    **text,
                    "body": self.koerper(),
                    "m.new_content": self.falscher_typ(),
                    "m.relates_to": {"rel_type": "m.replace", "event_id": self.frueheres()[0]},
                }
            case _:
                return {
                    **text,
                    "body": self.befehl(),
                    "format": "org.matrix.custom.html",
                    "formatted_body": self.wahl(INJEKTIONEN),
                }

    def ereignis(self, art: str, event_id: str, zeitstempel: int) -> tuple[str, dict[str, Any]]:
        # Ein kaputter Umschlag um einen ganz gewöhnlichen Inhalt
        basis = art
        if art == "kaputter_umschlag":
            basis = self.wahl(("befehl", "meldung", "antwort", "reaktion", "loeschung"))
        if basis in ("bearbeitung", "loeschung") and self.ja(0.8):
            self.ziel = self.frueheres()
        absender = self.absender(basis)
        typ, inhalt = self.inhalt(basis, absender)
        roh: dict[str, Any] = {
            "type": typ,
            "sender": absender,
            "event_id": event_id,
            "origin_server_ts": zeitstempel,
            "content": inhalt,
        }
        if typ == "m.room.redaction" and self.ja():
            # bis Raumversion 10 oben im Ereignis, ab 11 im Inhalt – mal beides, mal falsch
            ziel = self.ziel[0] if self.ziel else self.bot_nachricht()
            roh["redacts"] = ziel if self.ja(0.8) else self.falscher_typ()
        if art == "kaputter_umschlag":
            schluessel = self.wahl(("event_id", "sender", "origin_server_ts", "type", "redacts"))
            if self.ja(0.3):
                roh.pop(schluessel, None)
            elif schluessel == "origin_server_ts":
                roh[schluessel] = self.wahl((*ZEITSTEMPEL, self.falscher_typ()))
            elif schluessel == "event_id" and self.ja():
                roh[schluessel] = self.frueheres()[0]  # schon behandelt
            else:
                roh[schluessel] = self.falscher_typ()
        raum = self.wahl(RAEUME) if self.ja(0.95) else f"!{self.kennung()}:muenster.de"
        return raum, roh


# --- Abspielen ------------------------------------------------------------------------------


@dataclass
class Statistik:
    ereignisse: int = 0
    verarbeitet: int = 0
    antworten: Counter[str] = field(default_factory=Counter)


class _Fehlerprotokoll(logging.Handler):
    """Sammelt, was die Fehlergrenze protokolliert – auch bei Löschungen ohne Antwort."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.meldungen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.meldungen.append(self.format(record))


@dataclass
class _Spieler:
    bot: Testbot
    statistik: Statistik
    protokoll: _Fehlerprotokoll
    # Ausgangseinträge, die noch nicht zugestellt sind: Transaktions-ID → auslösendes Ereignis
    offen: dict[str, dict[str, Any]] = field(default_factory=dict)
    bot_nachrichten: list[tuple[str, int]] = field(default_factory=list)
    fruehere: list[tuple[str, str, str]] = field(default_factory=list)
    gemeldet: list[tuple[str, str, str]] = field(default_factory=list)
    ausloeser: dict[str, Any] = field(default_factory=dict)

    def eingereiht(self, eintrag: Ausgang) -> None:
        self.offen[eintrag.txn_id] = self.ausloeser

    async def spiele(self, nummer: int, art: str, saat: int) -> None:
        if art in MIT_BOTBEZUG:
            await self.zustellen()  # damit es Event-IDs der Bot-Nachrichten gibt
        erzeuger = _Erzeuger(
            _zufall(nummer, saat), self.bot_nachrichten, self.fruehere, self.gemeldet
        )
        zeitpunkt = self.bot.jetzt + dt.timedelta(seconds=nummer)
        raum, roh = erzeuger.ereignis(art, f"$fuzz{nummer}", int(zeitpunkt.timestamp() * 1000))
        self.statistik.ereignisse += 1
        self.ausloeser = roh
        ereignis = Ereignis.aus_json(raum, roh)
        if ereignis is not None:
            self.statistik.verarbeitet += 1
            self.fruehere.append((ereignis.event_id, ereignis.absender, art))
            await self.bot.verarbeitung.verarbeite(ereignis)
        assert not self.protokoll.meldungen, f"{self.protokoll.meldungen} bei {_kurz(roh)}"

    async def zustellen(self) -> None:
        # Zugestellt wird nur, wenn etwas wartet: ein leerer Blick in den Ausgangskorb kostete
        # je Ereignis so viel wie das Ereignis selbst.
        if not self.offen:
            return
        vorher = len(self.bot.rekorder.gesendet)
        await self.bot.zusteller.zustellen()
        nach_event_id = {e: t for t, e in self.bot.rekorder.nach_txn.items()}
        for gesendet in self.bot.rekorder.gesendet[vorher:]:
            ausloeser = self.offen.get(nach_event_id[gesendet.event_id], {})
            pruefe_gesendet(gesendet, ausloeser)
            self.statistik.antworten[_art(gesendet)] += 1
            if gesendet.typ == "m.room.message":
                projekte = len(gesendet.inhalt.get(PROJEKTBEZUG, []))
                self.bot_nachrichten.append((gesendet.event_id, projekte))
            # Quittung ✅ auf Befehl oder Antwort, „… gespeichert.“ auf eine Reaktion
            quittiert = gesendet.inhalt.get("m.relates_to", {}).get("event_id")
            if gesendet.reaktion == "✅" or " gespeichert" in gesendet.text:
                event_id = quittiert if gesendet.reaktion else ausloeser.get("event_id")
                self.gemeldet += [f for f in self.fruehere if f[0] == event_id]
        self.offen.clear()


# Woran man Antworten erkennt; `TIEFE` sind die, die zeigen, dass der Fuzzer tief genug kommt.
STICHWORTE = {
    "Meldung aktualisiert": "Bearbeitung übernommen",
    "ist zurückgezogen": "Meldung zurückgezogen",
    " gespeichert": "Reaktion gespeichert",
    "📊 Wochenbericht": "Wochenbericht",
    "ist keine Ampel": "keine Ampel",
    "kenne ich nicht": "unbekannt",
}
TIEFE = (
    "Reaktion ✅",
    "Reaktion gespeichert",
    "Bearbeitung übernommen",
    "Meldung zurückgezogen",
    "Wochenbericht",
)


def _art(gesendet: Gesendet) -> str:
    if gesendet.typ == "m.reaction":
        return f"Reaktion {gesendet.reaktion}"
    kopf = gesendet.text.split("\n", 1)[0]
    return next((art for wort, art in STICHWORTE.items() if wort in kopf), kopf[:40])


def _kurz(roh: Any) -> str:
    text = repr(roh)
    return text if len(text) < 600 else text[:600] + f"… ({len(text)} Zeichen)"


# --- Was jede Sendung erfüllen muss --------------------------------------------------------

# Was `befehle.nachricht` an HTML erzeugt – und sonst nichts.
ERLAUBTE_TAGS = frozenset(
    {"p", "br", "ul", "li", "strong", "em", "code", "a"}  # Absätze, Listen, Auszeichnung
    | {"table", "thead", "tbody", "tr", "th", "td"}
)
LINKZIEL = "https://matrix.to/#/"


class _HtmlPruefer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.probleme: list[str] = []
        self.text: list[str] = []

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ERLAUBTE_TAGS:
            self.probleme.append(f"Tag <{tag}>")
        for name, wert in attrs:
            if tag == "a" and name == "href" and (wert or "").startswith(LINKZIEL):
                continue
            self.probleme.append(f"Attribut {name}={wert!r} an <{tag}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag not in ERLAUBTE_TAGS:
            self.probleme.append(f"Endtag </{tag}>")

    def handle_comment(self, data: str) -> None:
        self.probleme.append(f"Kommentar {data!r}")

    def handle_decl(self, decl: str) -> None:
        self.probleme.append(f"Deklaration {decl!r}")

    def unknown_decl(self, data: str) -> None:
        self.probleme.append(f"Deklaration {data!r}")

    def handle_pi(self, data: str) -> None:
        self.probleme.append(f"Verarbeitungsanweisung {data!r}")


def html_probleme(html: str) -> list[str]:
    """Was am HTML nicht vom Bot stammt: fremde Tags, Attribute (`onerror=`, `javascript:`-Links),
    Kommentare. Als maskierter Text (`&lt;script&gt;`) ist all das harmlos und erlaubt."""
    pruefer = _HtmlPruefer()
    pruefer.feed(html)
    pruefer.close()
    return pruefer.probleme + (["<script roh"] if "<script" in html.casefold() else [])


def sendungsprobleme(gesendet: Gesendet, *, notbehelf_erlaubt: bool = False) -> list[str]:
    """Was an einer Sendung des Bots nicht stimmt; leer, wenn alles stimmt."""
    inhalt = gesendet.inhalt
    als_json = json.dumps(inhalt, ensure_ascii=False)
    probleme = []
    if len(als_json.encode()) > MAX_INHALT_BYTES:
        probleme.append(f"{len(als_json.encode())} Bytes")
    if "Interner Fehler" in als_json:
        probleme.append("Interner Fehler: ein Handler ist abgestürzt")
    # Der Notbehelf aus `bot.inhalt` hält die Größe ein, sagt aber „Bitte fragen Sie genauer“ –
    # falsch, wenn die Antwort nur eine zu lange Eingabe wiederholte.
    if NOTBEHELF in als_json and not notbehelf_erlaubt:
        probleme.append("Notbehelf „Antwort zu lang“")
    erwaehnt = inhalt.get("m.mentions", {})
    if "room" in erwaehnt or not set(erwaehnt.get("user_ids", [])) <= set(PERSONEN):
        probleme.append(f"Erwähnung {erwaehnt}")
    if gesendet.typ == "m.reaction":
        return probleme if isinstance(gesendet.reaktion, str) else [*probleme, "Reaktion"]
    if gesendet.typ != "m.room.message" or not isinstance(inhalt.get("body"), str):
        return [*probleme, "keine Nachricht mit Text"]
    if inhalt.get("msgtype") == "m.image":
        return probleme if str(inhalt.get("url", "")).startswith("mxc://") else [*probleme, "Bild"]
    if (
        inhalt.get("msgtype") != "m.notice"
        or inhalt.get("format") != "org.matrix.custom.html"
        or not isinstance(inhalt.get("formatted_body"), str)
    ):
        return [*probleme, "kein m.notice mit HTML"]
    return probleme + html_probleme(inhalt["formatted_body"])


def pruefe_gesendet(gesendet: Gesendet, ausloeser: dict[str, Any]) -> None:
    probleme = sendungsprobleme(gesendet)
    assert not probleme, f"{probleme}: gesendet {_kurz(gesendet.inhalt)} auf {_kurz(ausloeser)}"


# --- Die Tests ------------------------------------------------------------------------------


def _einstellungen(beispiele: int) -> settings:
    return settings(
        max_examples=beispiele,
        derandomize=_GESETZT is None,
        print_blob=True,
        database=None,
        deadline=None,
        # Ein Beispiel ist absichtlich groß und langsam; das ist kein Fehler der Strategie.
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


def _folgen(laenge: int) -> st.SearchStrategy[list[tuple[str, int]]]:
    """Art und Saat je Ereignis; verkleinert wird zu („plauderei“, 0)."""
    art_und_saat = st.tuples(st.sampled_from(ARTEN), st.integers(0, 2**32 - 1))
    return st.lists(art_und_saat, min_size=laenge, max_size=laenge)


def _ohne_diagramm(monkeypatch: pytest.MonkeyPatch) -> None:
    # Das Ampeldiagramm zeichnet matplotlib in ~1,5 s; es zeigt nur Zählungen und die Namen
    # aus der Struktur, keinen Text aus Nachrichten. Hier genügt ein Platzhalterbild.
    monkeypatch.setattr("befehle.bericht.ampel_diagramm", lambda _verlauf: b"\x89PNG fuzz")


async def _importiere_struktur(url: str) -> None:
    engine = erzeuge_engine(url)
    try:
        async with erzeuge_sitzungsfabrik(engine).begin() as sitzung:
            await importiere_struktur(sitzung, STRUKTUR, "Test")
    finally:
        await engine.dispose()


async def _spiele_serie(url: str, serie: list[tuple[str, int]], statistik: Statistik) -> None:
    engine = erzeuge_engine(url)
    spieler = _Spieler(Testbot(erzeuge_sitzungsfabrik(engine)), statistik, _Fehlerprotokoll())

    def eingereiht(_mapper: Any, _verbindung: Any, eintrag: Ausgang) -> None:
        spieler.eingereiht(eintrag)

    event.listen(Ausgang, "after_insert", eingereiht)
    logging.getLogger("bot").addHandler(spieler.protokoll)
    try:
        for nummer, (art, saat) in enumerate(serie):
            await spieler.spiele(nummer, art, saat)
        await spieler.zustellen()
    finally:
        logging.getLogger("bot").removeHandler(spieler.protokoll)
        event.remove(Ausgang, "after_insert", eingereiht)
        await engine.dispose()


@pytest.fixture(scope="module")
def struktur_vorlage(tmp_path_factory: pytest.TempPathFactory, _sqlite_vorlage: Path) -> Path:
    """Migrierte SQLite-Datenbank mit der Beispielstruktur; jede Serie spielt auf einer Kopie."""
    ziel = tmp_path_factory.mktemp("fuzz") / "vorlage.db"
    shutil.copyfile(_sqlite_vorlage, ziel)
    asyncio.run(_importiere_struktur(f"sqlite+aiosqlite:///{ziel}"))
    return ziel


def test_beliebige_nachrichten_bringen_den_bot_nie_zum_absturz(
    struktur_vorlage: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Jede Serie bekommt eine frische Kopie der Datenbank: so hängt ein Befund nur von seiner
    # Serie ab, und Hypothesis kann ihn wiederholen und verkleinern. SQLite, weil eine Kopie
    # ~1 ms kostet; PostgreSQL bräuchte je Serie Leeren und Import (~0,5 s) und je Ereignis
    # mehr Zeit. Was nur PostgreSQL anders macht, prüft der Test darunter mit wenigen Serien.
    _ohne_diagramm(monkeypatch)
    statistik = Statistik()
    arbeitsdatei = tmp_path / "serie.db"

    @_einstellungen(SERIEN)
    @given(serie=_folgen(SERIE))
    def spiele(serie: list[tuple[str, int]]) -> None:
        shutil.copyfile(struktur_vorlage, arbeitsdatei)
        asyncio.run(_spiele_serie(f"sqlite+aiosqlite:///{arbeitsdatei}", serie, statistik))

    spiele()
    assert statistik.ereignisse >= SERIEN * SERIE
    if BEISPIELE >= STANDARD_BEISPIELE:
        # Der Fuzzer kommt bis in die Tiefe: Meldungen werden gespeichert, per Reaktion
        # gesetzt, bearbeitet und zurückgezogen, und der Wochenbericht zeigt, was gemeldet wurde.
        erreicht = statistik.antworten
        for art in TIEFE:
            assert erreicht[art] > 0, f"{art} nie erreicht: {erreicht.most_common()}"


@pytest.mark.parametrize("datenbank_url", ["postgresql"], indirect=True)
def test_beliebige_nachrichten_auch_auf_postgresql(
    datenbank_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wenige Serien: PostgreSQL ist strenger (kein Nullzeichen im Text, Längen der Spalten)."""
    _ohne_diagramm(monkeypatch)
    statistik = Statistik()

    @_einstellungen(max(1, BEISPIELE // 20))
    @given(serie=_folgen(SERIE))
    def spiele(serie: list[tuple[str, int]]) -> None:
        datenbanken.postgres_leeren(datenbank_url)
        asyncio.run(_importiere_struktur(datenbank_url))
        asyncio.run(_spiele_serie(datenbank_url, serie, statistik))

    spiele()
    assert statistik.ereignisse >= max(1, BEISPIELE // 20) * SERIE


# --- Ohne Datenbank: Lesen und Darstellen ---------------------------------------------------


@pytest.fixture(scope="module")
def verzeichnis(struktur_vorlage: Path) -> Verzeichnis:
    async def laden() -> Verzeichnis:
        engine = erzeuge_engine(f"sqlite+aiosqlite:///{struktur_vorlage}")
        try:
            async with erzeuge_sitzungsfabrik(engine)() as sitzung:
                return await lade_verzeichnis(sitzung)
        finally:
            await engine.dispose()

    return asyncio.run(laden())


def _absagen(registratur: Registratur, verzeichnis: Verzeichnis, text: str) -> list[Nachricht]:
    """Was Parser und Suche aus einem Text machen: Ergebnis oder `Benutzerfehler`, nie mehr.

    Jeder Befehl liest jeden Argumenttext, nicht nur der genannte: so trifft jeder Parser
    auf alles. Gibt die Absagen zurück, so wie der Bot sie zeigen würde.
    """
    absagen: list[Nachricht] = []
    name, _, argumente = text.strip().removeprefix("!").partition(" ")
    with contextlib.suppress(Benutzerfehler):
        registratur.finde(name)
    for befehl in registratur.befehle:
        try:
            befehl.lese_argumente(argumente)
        except Argumentfehler as fehler:
            absagen.append(befehl.verwendung("!", fehler.nachricht.text))
        except Benutzerfehler as fehler:
            absagen.append(fehler.nachricht)
    try:
        lies_meldungsinhalt(text)
    except Benutzerfehler as fehler:
        absagen.append(fehler.nachricht)
    erstes = argumente.split(maxsplit=1)[0] if argumente.split() else name
    try:
        finde_feld_oder_projekt(verzeichnis, erstes, "!")
    except Benutzerfehler as fehler:
        absagen.append(fehler.nachricht)
    return absagen


def _pruefe_ohne_datenbank(
    registratur: Registratur,
    verzeichnis: Verzeichnis,
    nummer: int,
    art: str,
    saat: int,
    geprueft: set[str],
) -> int:
    frueher = [("$e", PATIN_ENERGIE, "meldung")]
    erzeuger = _Erzeuger(_zufall(nummer, saat), [("$bot", 1)], frueher, frueher)
    raum, roh = erzeuger.ereignis(art, f"$e{saat}", 1_764_000_000_000)
    ereignis = Ereignis.aus_json(raum, roh)
    if ereignis is not None:
        for bezug in (ereignis.thread_wurzel, ereignis.antwort_auf, ereignis.redacts):
            assert bezug is None or isinstance(bezug, str), roh
    inhalt = roh.get("content")
    texte: list[Any] = []
    if isinstance(inhalt, dict):
        neu = inhalt.get("m.new_content")
        bezug = inhalt.get("m.relates_to")
        texte = [
            inhalt.get("body"),
            neu.get("body") if isinstance(neu, dict) else None,
            bezug.get("key") if isinstance(bezug, dict) else None,
        ]
    nachrichten: list[Nachricht] = []
    beliebig: set[int] = set()
    for text in texte:
        if not isinstance(text, str):
            continue
        nachrichten += _absagen(registratur, verzeichnis, text)
        # Beliebiger Text in jedem Baustein: nur maskiert, und nach dem Lesen derselbe Text.
        if len(text) <= MAX_TEXT:
            beliebig.add(len(nachrichten))
            nachrichten.append(
                Nachricht()
                .absatz(text, [Fett(text), Kursiv(text), Code(text)])
                .liste([text])
                .tabelle([text], [[text]], [text])
            )
        pruefer = _HtmlPruefer()
        pruefer.feed(Nachricht().absatz(text).html)
        pruefer.close()
        assert "".join(pruefer.text) == text, roh
    for stelle, nachricht in enumerate(nachrichten):
        if nachricht.html in geprueft:
            continue  # dieselbe Absage wie schon einmal, etwa „Bitte nur einen Namen angeben.“
        gesendet = Gesendet(raum, "m.room.message", nachrichteninhalt(nachricht), "$x")
        # Ein beliebiger Text in jedem Baustein darf zu lang werden – eine Absage nicht.
        probleme = sendungsprobleme(gesendet, notbehelf_erlaubt=stelle in beliebig)
        assert not probleme, f"{probleme}: {_kurz(gesendet.inhalt)} aus {_kurz(roh)}"
        geprueft.add(nachricht.html)
    return len(nachrichten)


def test_beliebiger_text_wird_gelesen_oder_hoeflich_abgelehnt_und_nur_maskiert_gezeigt(
    verzeichnis: Verzeichnis,
) -> None:
    """Ohne Datenbank, darum viele: jeder Parser, die Suche und die Darstellung."""
    registratur = Registratur(alle_befehle())
    statistik = Counter[str]()
    geprueft: set[str] = set()

    @_einstellungen(BEISPIELE)
    @given(texte=_folgen(TEXTE))
    def pruefe(texte: list[tuple[str, int]]) -> None:
        for nummer, (art, saat) in enumerate(texte):
            statistik["Texte"] += 1
            statistik["Nachrichten"] += _pruefe_ohne_datenbank(
                registratur, verzeichnis, nummer, art, saat, geprueft
            )

    pruefe()
    assert statistik["Texte"] >= BEISPIELE * TEXTE
