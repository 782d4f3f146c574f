"""Ein eingehendes Matrix-Ereignis wird genau einmal behandelt.

Hier gibt es kein nio: Ereignisse kommen als rohes JSON (wie der Homeserver sie schickt)
und werden in einer Transaktion behandelt – Wirkung (z. B. die Statusmeldung), Antwort
im Ausgangskorb und der Vermerk „behandelt“ werden gemeinsam gespeichert oder gar nicht.
Das ist die eine Fehlergrenze: Was ein Handler wirft, wird protokolliert und mit
„Interner Fehler (Ref. …)“ beantwortet; die Sync-Schleife läuft weiter.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from befehle import schnellmeldung
from befehle.ausfuehrung import beantworte
from befehle.darstellung import Nachricht
from befehle.grundlagen import Anfrage, Antwort, Benutzerfehler, Betrieb, Registratur
from bot.ausgang import REAKTION, bot_nachricht, einreihen, reihe_antwort_ein
from bot.inhalt import reaktionsinhalt
from modelle.datenbank import Sitzungsfabrik
from modelle.tabellen import VerarbeitetesEreignis
from modelle.verzeichnis import lade_verzeichnis

log = logging.getLogger(__name__)


class DatenbankNichtErreichbar(Exception):
    """Die Datenbank antwortet nicht: das Ereignis später erneut behandeln, nicht überspringen."""


@dataclass(frozen=True, slots=True)
class Ereignis:
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


class Verarbeitung:
    def __init__(
        self,
        *,
        sitzungen: Sitzungsfabrik,
        registratur: Registratur,
        bot_id: str,
        praefix: str,
        zeitzone: ZoneInfo,
        betrieb: Betrieb | None = None,
        nach_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._sitzungen = sitzungen
        self._registratur = registratur
        self._bot_id = bot_id
        self._praefix = praefix
        self._zeitzone = zeitzone
        self._betrieb = betrieb or Betrieb()
        self._nach_commit = nach_commit

    async def verarbeite(self, ereignis: Ereignis) -> None:
        """Behandelt ein Ereignis genau einmal. Wirft nur `DatenbankNichtErreichbar`."""
        if ereignis.absender == self._bot_id:
            return
        try:
            async with self._sitzungen.begin() as sitzung:
                if await self._schon_behandelt(sitzung, ereignis.event_id):
                    return
                await self._behandle(sitzung, ereignis)
        except (OperationalError, InterfaceError) as fehler:
            raise DatenbankNichtErreichbar(str(fehler)) from fehler
        except Exception:
            referenz = secrets.token_hex(2).upper()
            log.exception(
                "Fehler bei %s %s in %s (Ref. %s)",
                ereignis.typ,
                ereignis.event_id,
                ereignis.raum_id,
                referenz,
            )
            await self._interner_fehler(ereignis, referenz)
        self._nach_commit()

    async def nicht_entschluesselbar(self, ereignis: Ereignis, schluesselsitzung: str) -> None:
        """Sagt der Person, dass ihre Nachricht nicht lesbar ist – einmal je Absender und Sitzung.

        Das Ereignis selbst gilt nicht als behandelt: kommt der Schlüssel nach, wird es
        entschlüsselt und ganz normal beantwortet.
        """
        if ereignis.absender == self._bot_id:
            return
        kennung = hashlib.sha256(f"{ereignis.absender}\n{schluesselsitzung}".encode()).hexdigest()
        nachricht = Nachricht().absatz(
            "Ich kann diese Nachricht nicht entschlüsseln – mir fehlt ihr Schlüssel. Ich habe "
            "ihn angefordert und antworte, sobald er da ist. Kommt keine Antwort, senden Sie "
            "die Nachricht bitte noch einmal."
        )
        try:
            async with self._sitzungen.begin() as sitzung:
                if await self._schon_behandelt(sitzung, f"unlesbar:{kennung[:40]}"):
                    return
                self._antworte(sitzung, ereignis, Antwort(nachricht), bezug=ereignis.event_id)
        except (OperationalError, InterfaceError) as fehler:
            raise DatenbankNichtErreichbar(str(fehler)) from fehler
        self._nach_commit()

    async def _schon_behandelt(self, sitzung: AsyncSession, event_id: str) -> bool:
        vorhanden = await sitzung.scalar(
            select(VerarbeitetesEreignis.event_id).where(VerarbeitetesEreignis.event_id == event_id)
        )
        if vorhanden is not None:
            return True
        sitzung.add(VerarbeitetesEreignis(event_id=event_id))
        return False

    async def _interner_fehler(self, ereignis: Ereignis, referenz: str) -> None:
        nachricht = Nachricht().absatz(
            f"Interner Fehler (Ref. {referenz}). Bitte versuchen Sie es später noch einmal; "
            "die Stabsstelle kann mit der Referenz nachsehen, was passiert ist."
        )
        try:
            async with self._sitzungen.begin() as sitzung:
                sitzung.add(VerarbeitetesEreignis(event_id=ereignis.event_id))
                if ereignis.typ in ("m.room.message", "m.reaction"):
                    self._antworte(sitzung, ereignis, Antwort(nachricht), bezug=ereignis.event_id)
        except (OperationalError, InterfaceError) as fehler:
            raise DatenbankNichtErreichbar(str(fehler)) from fehler

    async def _anfrage(self, sitzung: AsyncSession, ereignis: Ereignis) -> Anfrage:
        return Anfrage(
            absender=ereignis.absender,
            raum_id=ereignis.raum_id,
            jetzt=ereignis.zeitpunkt,
            zeitzone=self._zeitzone,
            praefix=self._praefix,
            sitzung=sitzung,
            verzeichnis=await lade_verzeichnis(sitzung),
            registratur=self._registratur,
            event_id=ereignis.event_id,
            betrieb=self._betrieb,
        )

    async def _behandle(self, sitzung: AsyncSession, ereignis: Ereignis) -> None:
        match ereignis.typ:
            case "m.room.message":
                await self._nachricht(sitzung, ereignis)
            case "m.reaction":
                await self._reaktion(sitzung, ereignis)
            case "m.room.redaction" if ereignis.redacts:
                anfrage = await self._anfrage(sitzung, ereignis)
                antwort = await schnellmeldung.zurueckziehen(anfrage, ereignis.redacts)
                if antwort is not None:
                    self._antworte(sitzung, ereignis, antwort, bezug=None)

    async def _nachricht(self, sitzung: AsyncSession, ereignis: Ereignis) -> None:
        if ereignis.beziehung.get("rel_type") == "m.replace":
            await self._bearbeitung(sitzung, ereignis)
            return
        text = _text(ereignis.inhalt)
        if text is None:
            return
        if text.startswith(self._praefix) and len(text) > len(self._praefix):
            await self._befehl(sitzung, ereignis, text)
            return
        bezug = ereignis.antwort_auf
        if bezug is None:
            return
        nachricht = await bot_nachricht(sitzung, bezug)
        if nachricht is None or not nachricht.projekte:
            return
        anfrage = await self._anfrage(sitzung, ereignis)
        antwort = await self._sicher(
            schnellmeldung.melde_per_antwort(anfrage, nachricht.projekte, text)
        )
        if antwort is not None:
            self._antworte(sitzung, ereignis, antwort, bezug=ereignis.event_id)

    async def _befehl(self, sitzung: AsyncSession, ereignis: Ereignis, text: str) -> None:
        name, _, argumente = text[len(self._praefix) :].partition(" ")
        if not name.strip():
            return
        anfrage = await self._anfrage(sitzung, ereignis)
        antwort = await beantworte(anfrage, name.strip(), argumente.strip())
        self._antworte(sitzung, ereignis, antwort, bezug=ereignis.event_id)

    async def _reaktion(self, sitzung: AsyncSession, ereignis: Ereignis) -> None:
        bezug = ereignis.beziehung
        ziel, schluessel = bezug.get("event_id"), bezug.get("key")
        if bezug.get("rel_type") != "m.annotation" or not (
            isinstance(ziel, str) and isinstance(schluessel, str)
        ):
            return
        nachricht = await bot_nachricht(sitzung, ziel)
        if nachricht is None or not nachricht.projekte:
            return
        anfrage = await self._anfrage(sitzung, ereignis)
        antwort = await self._sicher(
            schnellmeldung.melde_per_reaktion(anfrage, nachricht.projekte, schluessel)
        )
        if antwort is not None:
            self._antworte(
                sitzung, ereignis, antwort, bezug=ziel, thread_wurzel=nachricht.thread_wurzel
            )

    async def _bearbeitung(self, sitzung: AsyncSession, ereignis: Ereignis) -> None:
        ziel = ereignis.beziehung.get("event_id")
        neu = ereignis.inhalt.get("m.new_content")
        text = _text(neu) if isinstance(neu, dict) else None
        if not isinstance(ziel, str) or text is None:
            return
        anfrage = await self._anfrage(sitzung, ereignis)
        antwort = await self._sicher(schnellmeldung.bearbeite(anfrage, ziel, text))
        if antwort is not None:
            self._antworte(sitzung, ereignis, antwort, bezug=ziel)
        elif text.startswith(self._praefix):
            # Ein vertippter Befehl, per Bearbeiten korrigiert: jetzt beantworten.
            await self._befehl(sitzung, ereignis, text)

    @staticmethod
    async def _sicher(arbeit: Any) -> Antwort | None:
        """Erwartete Probleme einer Schnellmeldung werden zur Antwort statt zum Fehler."""
        try:
            ergebnis: Antwort | None = await arbeit
        except Benutzerfehler as fehler:
            return Antwort(fehler.nachricht)
        return ergebnis

    @staticmethod
    def _antworte(
        sitzung: AsyncSession,
        ereignis: Ereignis,
        antwort: Antwort,
        *,
        bezug: str | None,
        thread_wurzel: str | None = None,
    ) -> None:
        """Reiht Reaktion und Nachricht ein; `bezug` ist die Nachricht, auf die sie antworten."""
        if antwort.reaktion is not None and bezug is not None:
            einreihen(sitzung, ereignis.raum_id, REAKTION, reaktionsinhalt(bezug, antwort.reaktion))
        reihe_antwort_ein(
            sitzung,
            ereignis.raum_id,
            antwort,
            antwort_auf=bezug,
            thread_wurzel=thread_wurzel or ereignis.thread_wurzel,
        )
