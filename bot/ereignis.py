"""Ein Matrix-Ereignis aus dem Sync – und was es vom Bot will, am Ereignis allein entschieden.

`anliegen()` ist die eine Entscheidung, ob und wofür ein Ereignis den Bot meint: ein Befehl,
eine Meldung als Antwort oder Ampel-Reaktion, eine Bearbeitung, eine Löschung. Nach ihr behandelt
die Verarbeitung das Ereignis und zählt die Drossel es; im Datenbankausfall sagt `hinweisziel()`,
wer den Hinweis bekommt, dem der Bot sonst geantwortet hätte. Ohne Datenbank bleibt offen, ob eine
Antwort auf eine Projektnachricht des Bots gilt oder ob eine bearbeitete Nachricht eine Meldung
war: das klärt erst die Behandlung.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from befehle.meldungsleser import sieht_wie_meldung_aus
from modelle.werte import Ampel

# Zeitstempel, die ein Homeserver plausibel setzt; alles außerhalb gilt als kaputtes Ereignis.
_FRUEHESTENS = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_SPAETESTENS = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Ereignis:
    """Ein Raumereignis, wie der Homeserver es schickt – nur was die Verarbeitung braucht."""

    event_id: str
    raum_id: str
    absender: str
    typ: str
    inhalt: dict[str, Any]
    zeitpunkt: dt.datetime
    # Bei m.room.redaction: das gelöschte Ereignis (oben im Ereignis bis Raumversion 10,
    # im Inhalt ab Version 11).
    redacts: str | None = None

    @classmethod
    def aus_json(cls, raum_id: str, roh: dict[str, Any]) -> Ereignis | None:
        """Liest ein Ereignis aus dem Sync; `None` für alles, was nicht die nötige Form hat."""
        event_id, absender, typ = roh.get("event_id"), roh.get("sender"), roh.get("type")
        inhalt, ts = roh.get("content"), roh.get("origin_server_ts")
        if not (
            isinstance(event_id, str)
            and isinstance(absender, str)
            and isinstance(typ, str)
            and isinstance(inhalt, dict)
            and isinstance(ts, int)
            and not isinstance(ts, bool)
        ):
            return None
        redacts = roh.get("redacts", inhalt.get("redacts"))
        try:
            zeitpunkt = dt.datetime.fromtimestamp(ts / 1000, dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
        if not _FRUEHESTENS <= zeitpunkt < _SPAETESTENS:
            # Den Zeitstempel setzt der Server des Absenders, auch ein fremder. Am Rand des
            # Kalenders (Jahr 1, 9999) scheitert jede Datumsrechnung – gespeichert auch jede
            # spätere, etwa jeder `!status` des Projekts.
            return None
        return cls(
            event_id=event_id,
            raum_id=raum_id,
            absender=absender,
            typ=typ,
            inhalt=inhalt,
            zeitpunkt=zeitpunkt,
            redacts=redacts if isinstance(redacts, str) else None,
        )

    @property
    def beziehung(self) -> dict[str, Any]:
        bezug = self.inhalt.get("m.relates_to")
        return bezug if isinstance(bezug, dict) else {}

    @property
    def thread_wurzel(self) -> str | None:
        if self.beziehung.get("rel_type") == "m.thread":
            wurzel = self.beziehung.get("event_id")
            return wurzel if isinstance(wurzel, str) else None
        return None

    @property
    def antwort_auf(self) -> str | None:
        """Worauf sich eine Antwort bezieht: die zitierte Nachricht, sonst die Thread-Wurzel."""
        zitat = self.beziehung.get("m.in_reply_to")
        zitiert = zitat.get("event_id") if isinstance(zitat, dict) else None
        if isinstance(zitiert, str) and not self.beziehung.get("is_falling_back", False):
            return zitiert
        return self.thread_wurzel or (zitiert if isinstance(zitiert, str) else None)


# Alte Clients stellen Antworten ein Zitat voran: "> <@a:b> …\n> …\n\n".
_ANTWORTZITAT = re.compile(r"\A(?:>[^\n]*\n)+\n?")


def _text(inhalt: dict[str, Any]) -> str | None:
    body = inhalt.get("body")
    if not isinstance(body, str):
        return None
    return _ANTWORTZITAT.sub("", body).strip()


@dataclass(frozen=True, slots=True)
class Befehlsaufruf:
    """`!status energie`: Name und Argumenttext, ohne Präfix."""

    name: str
    argumente: str
    bezug: str  # die Nachricht (oder Bearbeitung) mit dem Befehl: auf sie antwortet der Bot


@dataclass(frozen=True, slots=True)
class Meldungsantwort:
    """`gelb, 40 %, …` als Antwort auf eine Nachricht – eine Meldung, wenn die eine
    Projektnachricht des Bots ist."""

    auf: str
    text: str
    bezug: str  # die Antwort selbst


@dataclass(frozen=True, slots=True)
class Ampelreaktion:
    """🟢 🟡 🔴 ✅ (oder eine andere Schreibweise einer Ampel) an einer Nachricht."""

    ampel: Ampel
    bezug: str  # die Nachricht mit der Reaktion


@dataclass(frozen=True, slots=True)
class Bearbeitung:
    """Eine bearbeitete Nachricht; ob sie eine gespeicherte Meldung ändert, weiß erst die
    Datenbank. Ist der neue Text ein Befehl, wird er beantwortet, falls keine Meldung dazu
    gehört (ein vertippter Befehl, per Bearbeiten korrigiert)."""

    text: str
    bezug: str  # die ursprüngliche Nachricht
    befehl: Befehlsaufruf | None
    # Befehl oder Meldungsformat: meint den Bot auch ohne Blick in die Datenbank.
    erkennbar: bool


@dataclass(frozen=True, slots=True)
class Loeschung:
    """Eine gelöschte Nachricht oder Reaktion; war sie eine Meldung, wird die zurückgezogen."""

    geloescht: str


Anliegen = Befehlsaufruf | Meldungsantwort | Ampelreaktion | Bearbeitung | Loeschung


def anliegen(ereignis: Ereignis, praefix: str) -> Anliegen | None:
    """Was das Ereignis vom Bot will; `None`: nichts (Unterhaltung, Bilder, fremde Ereignisse)."""
    bezug = ereignis.beziehung
    if ereignis.typ == "m.reaction":
        ziel, schluessel = bezug.get("event_id"), bezug.get("key")
        if bezug.get("rel_type") != "m.annotation" or not (
            isinstance(ziel, str) and isinstance(schluessel, str)
        ):
            return None
        ampel = Ampel.aus_eingabe(schluessel)
        return None if ampel is None else Ampelreaktion(ampel, bezug=ziel)
    if ereignis.typ == "m.room.redaction":
        return Loeschung(ereignis.redacts) if ereignis.redacts else None
    if ereignis.typ != "m.room.message":
        return None
    if bezug.get("rel_type") == "m.replace":
        ziel, neu = bezug.get("event_id"), ereignis.inhalt.get("m.new_content")
        text = _text(neu) if isinstance(neu, dict) else None
        if not isinstance(ziel, str) or text is None:
            return None
        befehl = _befehlsaufruf(text, praefix, ereignis.event_id)
        erkennbar = befehl is not None or sieht_wie_meldung_aus(text)
        return Bearbeitung(text, bezug=ziel, befehl=befehl, erkennbar=erkennbar)
    text = _text(ereignis.inhalt)
    if text is None:
        return None
    if text.startswith(praefix) and len(text) > len(praefix):
        # Mit dem Präfix ist es ein Befehl oder nichts („! gelb“ ist keine Meldung).
        return _befehlsaufruf(text, praefix, ereignis.event_id)
    if ereignis.antwort_auf is not None and sieht_wie_meldung_aus(text):
        return Meldungsantwort(ereignis.antwort_auf, text, bezug=ereignis.event_id)
    return None


def hinweisziel(gemeint: Anliegen | None) -> str | None:
    """Worauf der Hinweis im Datenbankausfall antwortet; `None`: kein Hinweis, und für die
    Drossel ist das Ereignis Unterhaltung. Eine Löschung bekommt keinen (worauf sollte er
    antworten?), eine Bearbeitung nur, wenn ihr neuer Text den Bot erkennbar meint."""
    match gemeint:
        case None | Loeschung() | Bearbeitung(erkennbar=False):
            return None
        case _:
            return gemeint.bezug


def _befehlsaufruf(text: str, praefix: str, bezug: str) -> Befehlsaufruf | None:
    if not text.startswith(praefix):
        return None
    name, _, argumente = text[len(praefix) :].partition(" ")
    if not name.strip():
        return None
    return Befehlsaufruf(name.strip(), argumente.strip(), bezug=bezug)
