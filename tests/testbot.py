"""Befehl rein, Antwort raus: die echte Verarbeitung auf echter Datenbank, ohne Homeserver.

Der Testbot baut Matrix-Ereignisse als JSON, wie der Homeserver sie schickt, lässt sie
durch `bot.verarbeitung` laufen und stellt den Ausgangskorb an einen Rekorder zu.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from befehle.grundlagen import Befehl, Betrieb
from bot.app import baue_verarbeitung
from bot.config import Einstellungen
from bot.ereignis import Ereignis
from bot.inhalt import reaktionsinhalt
from bot.metriken import Metriken
from bot.planer import Planer
from bot.transport import Mitgliedschaft, NichtImRaum
from bot.zusteller import Zusteller
from demo.clientinhalt import bearbeitung, textnachricht
from modelle.datenbank import Sitzungsfabrik

BOT = "@klimabot:muenster.de"
PATIN_ENERGIE = "@anna.becker:muenster.de"
KOORDINATION_ENERGIE = "@fatma.yilmaz:muenster.de"
PATIN_MOBILITAET = "@thomas.reinhardt:muenster.de"
STABSSTELLE = "@kai.overbeck:muenster.de"
AUSSENSTEHENDE = "@max.mustermann:muenster.de"
RAUM_ENERGIE = "#klima-energie:muenster.de"
RAUM_MOBILITAET = "#klima-mobilitaet:muenster.de"
# Der Bot handelt nur in Räumen der Struktur; ohne Angabe schreibt man im Testbot in den Raum
# der Stabsstelle (dort zeigt `!status` alle Felder). Die `testbot`-Fixture trägt ihn ein.
RAUM_STABSSTELLE = "!stabsstelle:muenster.de"
BERLIN = ZoneInfo("Europe/Berlin")
# Die Vorgaben der Konfiguration (Präfix „!“, Europe/Berlin, Flutgrenze, Zeitplan) – ohne
# `KLIMABOT_…`-Variablen aus der Umgebung des Testlaufs.
VORGABEN = Einstellungen.model_construct()


@dataclass
class Gesendet:
    raum_id: str
    typ: str
    inhalt: dict[str, Any]
    event_id: str

    @property
    def text(self) -> str:
        return str(self.inhalt.get("body", ""))

    @property
    def html(self) -> str:
        return str(self.inhalt.get("formatted_body", ""))

    @property
    def reaktion(self) -> str | None:
        bezug = self.inhalt.get("m.relates_to", {})
        return bezug.get("key") if self.typ == "m.reaction" else None


@dataclass
class Rekorder:
    """Ein Transport, der alles aufzeichnet und Event-IDs vergibt – und auf Wunsch scheitert.

    `ohne_bot`: Räume, in denen der Bot nicht ist (Senden wirft `NichtImRaum`); `stoerungen`:
    je Raum Fehler, die die nächsten Sendeversuche der Reihe nach werfen. Direkträume tragen
    ihre Kennung wie beim Homeserver; `verlassen_von` sagt, wer einen Raum verlassen hat.
    """

    gesendet: list[Gesendet] = field(default_factory=list)
    _zaehler: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    nach_txn: dict[str, str] = field(default_factory=dict)
    hochgeladen: list[tuple[str, str, bytes]] = field(default_factory=list)
    direktraeume: list[str] = field(default_factory=list)
    ohne_bot: set[str] = field(default_factory=set)
    stoerungen: dict[str, list[Exception]] = field(default_factory=dict)
    # Jeder Sendeversuch: (Raum, Transaktions-ID).
    versuche: list[tuple[str, str]] = field(default_factory=list)
    # Raum-ID → (Person, Kennung) der angelegten Direkträume.
    kennungen: dict[str, tuple[str, str]] = field(default_factory=dict)
    verlassen_von: dict[str, set[str]] = field(default_factory=dict)
    verlassen: list[str] = field(default_factory=list)

    async def sende(
        self, raum_id: str, ereignistyp: str, inhalt: dict[str, Any], txn_id: str
    ) -> str:
        self.versuche.append((raum_id, txn_id))
        stoerung = self.stoerungen.get(raum_id)
        if stoerung:
            raise stoerung.pop(0)
        if raum_id in self.ohne_bot or raum_id in self.verlassen:
            raise NichtImRaum(f"M_FORBIDDEN: {BOT} ist nicht in {raum_id}")
        if txn_id in self.nach_txn:  # wie der Homeserver: dieselbe Transaktion nur einmal
            return self.nach_txn[txn_id]
        event_id = f"$bot{next(self._zaehler)}"
        self.nach_txn[txn_id] = event_id
        self.gesendet.append(Gesendet(raum_id, ereignistyp, inhalt, event_id))
        return event_id

    async def lade_hoch(
        self, raum_id: str, daten: bytes, mimetype: str, dateiname: str
    ) -> dict[str, Any]:
        self.hochgeladen.append((dateiname, mimetype, daten))
        return {"url": f"mxc://test/{len(self.hochgeladen)}"}

    async def erstelle_direktraum(self, matrix_id: str, kennung: str) -> str:
        self.direktraeume.append(matrix_id)
        raum_id = f"!direkt-{len(self.direktraeume)}:test"
        self.kennungen[raum_id] = (matrix_id, kennung)
        return raum_id

    async def finde_direktraum(self, kennung: str) -> str | None:
        for raum_id, (_person, gesucht) in self.kennungen.items():
            if gesucht == kennung and raum_id not in self.verlassen:
                return raum_id
        return None

    async def mitgliedschaft(self, raum_id: str, matrix_id: str) -> Mitgliedschaft | None:
        if raum_id in self.verlassen:
            raise NichtImRaum(f"M_FORBIDDEN: {BOT} ist nicht in {raum_id}")
        if matrix_id in self.verlassen_von.get(raum_id, set()):
            return "leave"
        person, _kennung = self.kennungen.get(raum_id, (None, None))
        return "invite" if person == matrix_id else None

    async def verlasse(self, raum_id: str) -> None:
        self.verlassen.append(raum_id)


@dataclass
class Antworten:
    """Was der Bot auf ein Ereignis hin gesendet hat."""

    event_id: str
    alle: list[Gesendet]

    @property
    def nachrichten(self) -> list[Gesendet]:
        return [g for g in self.alle if g.typ == "m.room.message"]

    @property
    def nachricht(self) -> Gesendet:
        assert len(self.nachrichten) == 1, self.alle
        return self.nachrichten[0]

    @property
    def text(self) -> str:
        return self.nachricht.text

    @property
    def html(self) -> str:
        return self.nachricht.html

    @property
    def reaktionen(self) -> list[str]:
        return [g.reaktion for g in self.alle if g.reaktion is not None]


class Testbot:
    __test__ = False  # kein Testfall, auch wenn der Name so beginnt

    def __init__(
        self,
        sitzungen: Sitzungsfabrik,
        *,
        befehle: Sequence[Befehl[Any]] | None = None,
        rekorder: Rekorder | None = None,
    ) -> None:
        """`befehle`: statt aller Befehle diese (etwa mit einem Befehl nur für den Test);
        `rekorder`: der eines vorigen Testbots – wie ein Neustart am selben Homeserver mit
        demselben Gerät (er kennt dessen Transaktionen)."""
        self.sitzungen = sitzungen
        self.rekorder = Rekorder() if rekorder is None else rekorder
        # Was der Bot zählt (wie für /metrics): Befehle, Antwortzeit, Geplantes.
        self.metriken = Metriken()
        self.zusteller = Zusteller(sitzungen, self.rekorder, metriken=self.metriken)
        self.verarbeitung = baue_verarbeitung(
            VORGABEN,
            sitzungen,
            bot_id=BOT,
            befehle=befehle,
            metriken=self.metriken,
            # Wie im Betrieb: Lesebefehle antworten sofort über den Transport, sonst der Korb.
            transport=self.rekorder,
            raum_belegt=self.zusteller.raum_belegt,
            # Der Testbot lebt in seiner eigenen Zeit: Tests stellen `jetzt` vor. Auch die
            # Drossel rechnet mit ihr (mit den Zeitpunkten der Ereignisse).
            uhr=lambda: self.jetzt,
        )
        # Die Anfangsstände der Beispielstruktur tragen die echte Importzeit; der Testbot
        # beginnt danach, damit seine Meldungen die neuesten sind.
        self.jetzt = dt.datetime.now(BERLIN) + dt.timedelta(seconds=1)
        self._ereignisse = itertools.count(1)

    async def planer_durchgang(self, um: dt.datetime) -> list[Gesendet]:
        """Ein Durchgang eines frisch gestarteten Planers zur Uhrzeit `um` und was er sendet."""
        planer = Planer(
            sitzungen=self.sitzungen,
            zeitzone=BERLIN,
            betrieb=Betrieb(),
            praefix="!",
            uhr=lambda: um,
            metriken=self.metriken,
        )
        vorher = len(self.rekorder.gesendet)
        await planer.pruefe()
        await self.zusteller.zustellen()
        return self.rekorder.gesendet[vorher:]

    def baue_ereignis(self, raum: str, roh: dict[str, Any]) -> Ereignis:
        """Das Ereignis, wie der Sync es liefert: mit Event-ID und Zeitpunkt `jetzt`, wenn `roh`
        keine hat."""
        roh.setdefault("event_id", f"$e{next(self._ereignisse)}")
        roh.setdefault("origin_server_ts", int(self.jetzt.timestamp() * 1000))
        ereignis = Ereignis.aus_json(raum, roh)
        assert ereignis is not None, roh
        return ereignis

    async def ereignis(self, raum: str, roh: dict[str, Any]) -> Antworten:
        """Schickt ein rohes Ereignis durch die Verarbeitung und stellt zu, was dabei entsteht."""
        ereignis = self.baue_ereignis(raum, roh)
        vorher = len(self.rekorder.gesendet)
        # Frisch wie im laufenden Sync; nach dem Ereignis schreibt die Verarbeitung die
        # Vermerke sofort gesendeter Antworten, wie die Sync-Schleife nach jedem Stapel.
        await self.verarbeitung.verarbeite(ereignis, frisch=True)
        await self.verarbeitung.vermerke_gesendete()
        await self.zusteller.zustellen()
        return Antworten(roh["event_id"], self.rekorder.gesendet[vorher:])

    async def sende(
        self,
        text: str,
        *,
        als: str,
        raum: str = RAUM_STABSSTELLE,
        antwort_auf: str | None = None,
        thread: str | None = None,
    ) -> Antworten:
        inhalt = textnachricht(text, antwort_auf=antwort_auf, thread=thread)
        return await self.ereignis(
            raum, {"type": "m.room.message", "sender": als, "content": inhalt}
        )

    async def reagiere(
        self, auf: str, schluessel: str, *, als: str, raum: str = RAUM_STABSSTELLE
    ) -> Antworten:
        roh = {"type": "m.reaction", "sender": als, "content": reaktionsinhalt(auf, schluessel)}
        return await self.ereignis(raum, roh)

    async def bearbeite(
        self, event_id: str, neuer_text: str, *, als: str, raum: str = RAUM_STABSSTELLE
    ) -> Antworten:
        inhalt = bearbeitung(event_id, neuer_text)
        return await self.ereignis(
            raum, {"type": "m.room.message", "sender": als, "content": inhalt}
        )

    async def loesche(self, event_id: str, *, als: str, raum: str = RAUM_STABSSTELLE) -> Antworten:
        roh = {
            "type": "m.room.redaction",
            "sender": als,
            "redacts": event_id,
            "content": {"redacts": event_id},
        }
        return await self.ereignis(raum, roh)
