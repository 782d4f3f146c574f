"""`klimabot demo`: der Bot in Aktion, auf einem Wegwerf-Synapse mit der Beispielstruktur.

Alles lebt in einem temporären Ordner (Synapse, Bot-Datenbank, Konfiguration, Struktur)
und verschwindet am Ende – auch nach Strg+C, SIGTERM oder einem Fehler. Der Homeserver
heißt bewusst nicht wie die Stadt: Die Matrix-IDs und Raumadressen der Beispielstruktur
werden in der Kopie auf `klimabot.demo` umgeschrieben.

Die Szene läuft über echte Client-Anfragen der Demo-Personen (matrix-nio), genau wie aus
Element; gewartet wird jeweils auf die passende Antwort des Bots, nie auf eine feste Zeit.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib.util
import logging
import os
import secrets
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TextIO, TypeVar
from zoneinfo import ZoneInfo

import tomli_w
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    ProfileSetDisplayNameResponse,
    RoomCreateResponse,
    RoomPreset,
    SyncResponse,
)
from nio.store import SqliteStore

from bot.app import Klimabot, betrieb_aus
from bot.client import pflege_schluessel
from bot.config import lade_einstellungen
from bot.homeserver import HOST, HomeserverFehler, LokalerHomeserver, Zugang, freier_port
from bot.inhalt import reaktionsinhalt, textnachricht
from bot.niotransport import VERSCHLUESSELUNG, NioTransport
from bot.planer import Planer
from bot.transport import Sendefehler
from modelle.strukturdatei import PersonAngabe, Struktur, parse_struktur
from modelle.termine import naechster_termin, verschiebe_auf_arbeitstag
from modelle.zeitplan import Zeitplan

log = logging.getLogger(__name__)

DEMO_SERVER = "klimabot.demo"
BEISPIEL_SERVER = "muenster.de"
BEISPIELSTRUKTUR = Path(__file__).resolve().parent.parent / "beispiele" / "muenster.toml"
STABSSTELLE_ALIAS = "klima-stabsstelle"
# Synapses üblicher Port: so bleibt die Adresse von Lauf zu Lauf gleich, wenn er frei ist.
WUNSCHPORT = 8008
# So lange darf der Bot für eine Antwort brauchen, bevor die Demo aufgibt.
ANTWORTFRIST = 20.0

EXIT_OK = 0
EXIT_FEHLER = 1
EXIT_EINGABE = 2

_P = ParamSpec("_P")
_T = TypeVar("_T")
Ereignis = dict[str, Any]


class DemoFehler(Exception):
    """Die Demo kann nicht weiter; die Meldung sagt auf Deutsch, woran es liegt."""


# --- Konten und Räume --------------------------------------------------------------------------


# Ohne 0/o und 1/l/i: die Passwörter werden abgetippt.
_PASSWORTZEICHEN = "abcdefghjkmnpqrstuvwxyz23456789"


def _passwort() -> str:
    return "-".join("".join(secrets.choice(_PASSWORTZEICHEN) for _ in range(4)) for _ in range(3))


def _lokalteil(adresse: str) -> str:
    """`@anna.becker:server` → `anna.becker`, `#klima-energie:server` → `klima-energie`."""
    return adresse[1:].partition(":")[0]


@dataclass(frozen=True)
class Konto:
    zugang: Zugang
    name: str
    rolle: str


@dataclass(frozen=True)
class Konten:
    admin: Konto
    bot: Konto
    personen: dict[str, Konto]  # nach Matrix-ID


@dataclass(frozen=True)
class Raumplan:
    name: str
    adresse: str
    thema: str
    mitglieder: tuple[str, ...]  # Matrix-IDs der Menschen; der Bot kommt immer dazu


def demostruktur(text: str) -> str:
    """Die Beispielstruktur mit Matrix-IDs und Raumadressen auf dem Demo-Server."""
    return text.replace(f":{BEISPIEL_SERVER}", f":{DEMO_SERVER}")


def _rolle(person: PersonAngabe, feldnamen: dict[str, str]) -> str:
    teile = []
    if person.stabsstelle:
        teile.append("Stabsstelle Klima")
    if person.patin:
        teile.append("Themenpat*in " + ", ".join(feldnamen[s] for s in person.patin))
    if person.koordination:
        teile.append("Klimakoordinator*in " + ", ".join(feldnamen[s] for s in person.koordination))
    return "; ".join(teile) or "ohne Rolle"


def registriere_alle(homeserver: LokalerHomeserver, struktur: Struktur) -> Konten:
    """Legt Admin, Bot und jede Person der Struktur an und hebt die Ratenlimits des Bots auf."""
    feldnamen = {f.slug: f.name for f in struktur.themenfelder}
    admin = Konto(
        homeserver.registriere("admin", _passwort(), admin=True),
        "Demo-Admin",
        "Homeserver-Admin (Synapse-Admin-API)",
    )
    bot = Konto(homeserver.registriere("klimabot", _passwort()), "Klimabot", "der Bot")
    # Wie im Betrieb: Der Bot antwortet vielen Menschen und darf nie gedrosselt werden.
    homeserver.ratenlimit_aufheben(admin.zugang.access_token, bot.zugang.user_id)
    personen: dict[str, Konto] = {}
    for person in struktur.personen:
        zugang = homeserver.registriere(_lokalteil(person.matrix_id), _passwort())
        if zugang.user_id != person.matrix_id:
            raise DemoFehler(
                f"{person.matrix_id} gehört nicht zum Demo-Server {DEMO_SERVER} "
                f"(registriert wurde {zugang.user_id})"
            )
        personen[person.matrix_id] = Konto(zugang, person.name, _rolle(person, feldnamen))
    return Konten(admin, bot, personen)


def raumplaene(struktur: Struktur) -> list[Raumplan]:
    """Je Themenfeld ein Raum für Pat*in, Koordinator*innen und Stabsstelle; dazu ihr eigener."""
    stabsstelle = tuple(p.matrix_id for p in struktur.personen if p.stabsstelle)
    plaene = []
    for feld in struktur.themenfelder:
        if feld.raum is None or not feld.raum.startswith("#"):
            log.warning("Themenfeld %s hat keine Raumadresse; kein Raum in der Demo", feld.slug)
            continue
        zustaendige = tuple(
            p.matrix_id
            for p in struktur.personen
            if feld.slug in p.patin or feld.slug in p.koordination
        )
        plaene.append(
            Raumplan(
                name=f"Themenfeld {feld.name}",
                adresse=feld.raum,
                thema=f"Strategieprojekte und Statusmeldungen im Themenfeld {feld.name}",
                mitglieder=tuple(dict.fromkeys(zustaendige + stabsstelle)),
            )
        )
    plaene.append(
        Raumplan(
            name="Stabsstelle Klima",
            adresse=f"#{STABSSTELLE_ALIAS}:{DEMO_SERVER}",
            thema="Wochenbericht und Verwaltung der Struktur",
            mitglieder=stabsstelle,
        )
    )
    return plaene


# --- Menschen am Client ----------------------------------------------------------------------


class Demoperson:
    """Eine Person mit eigenem Matrix-Client: sendet wie Element und sieht, was ankommt."""

    def __init__(self, url: str, konto: Konto, schluesselspeicher: Path) -> None:
        self.konto = konto
        self.name = konto.name
        self.user_id = konto.zugang.user_id
        # Mit eigenen Schlüsseln wie Element: die Räume der Demo sind Ende-zu-Ende-verschlüsselt.
        schluesselspeicher.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(
            url,
            self.user_id,
            store_path=str(schluesselspeicher),
            config=AsyncClientConfig(
                encryption_enabled=True, store=SqliteStore, pickle_key=secrets.token_urlsafe(16)
            ),
        )
        self.client.restore_login(self.user_id, konto.zugang.device_id, konto.zugang.access_token)
        self._position: str | None = None
        self._gesehen: list[Ereignis] = []

    async def schliessen(self) -> None:
        await self.client.close()

    async def anzeigename_setzen(self) -> None:
        antwort = await self.client.set_displayname(self.name)
        if not isinstance(antwort, ProfileSetDisplayNameResponse):
            raise DemoFehler(f"Anzeigename von {self.user_id} nicht gesetzt: {antwort.message}")

    async def raum_anlegen(self, plan: Raumplan, einladen: Sequence[str]) -> str:
        antwort = await self.client.room_create(
            alias=_lokalteil(plan.adresse),
            name=plan.name,
            topic=plan.thema,
            preset=RoomPreset.private_chat,
            invite=list(einladen),
            initial_state=[VERSCHLUESSELUNG],
        )
        if not isinstance(antwort, RoomCreateResponse):
            raise DemoFehler(f"Raum {plan.adresse} nicht angelegt: {antwort.message}")
        return str(antwort.room_id)

    async def beitreten(self, raum_id: str) -> None:
        antwort = await self.client.join(raum_id)
        if not isinstance(antwort, JoinResponse):
            raise DemoFehler(f"{self.user_id} kann {raum_id} nicht beitreten: {antwort.message}")

    async def _sende(self, raum_id: str, typ: str, inhalt: dict[str, Any]) -> str:
        # Erst auf den neuesten Stand (wie ein laufender Client): Wer neu im Raum ist, bekommt
        # sonst den Raumschlüssel nicht. Gesendet wird wie vom Bot: alles verschlüsselt.
        await self.synchronisiere(timeout_ms=0)
        try:
            return await NioTransport(self.client).sende(raum_id, typ, inhalt, uuid.uuid4().hex)
        except Sendefehler as fehler:
            raise DemoFehler(f"{self.name} konnte nicht senden: {fehler}") from fehler

    async def synchronisiere(self, timeout_ms: int) -> None:
        """Holt Neues (Long-Poll bis `timeout_ms`) und pflegt die eigenen Schlüssel."""
        antwort = await self.client.sync(
            timeout=timeout_ms,
            since=self._position,
            # Ohne Filter liefert Synapse nur die letzten 10 Ereignisse je Raum.
            sync_filter={"room": {"timeline": {"limit": 500}}},
        )
        if isinstance(antwort, SyncResponse):
            self._position = antwort.next_batch
            for raum in antwort.rooms.join.values():
                self._gesehen.extend(e.source for e in raum.timeline.events)
        await pflege_schluessel(self.client)

    async def sende(
        self, raum_id: str, text: str, *, antwort_auf: str | None = None, thread: str | None = None
    ) -> str:
        inhalt = textnachricht(text, antwort_auf=antwort_auf, thread=thread)
        return await self._sende(raum_id, "m.room.message", inhalt)

    async def reagiere(self, raum_id: str, event_id: str, schluessel: str) -> str:
        return await self._sende(raum_id, "m.reaction", reaktionsinhalt(event_id, schluessel))

    async def warte_auf(
        self, passt: Callable[[Ereignis], bool], *, worauf: str, lebt: Callable[[], bool]
    ) -> Ereignis:
        """Synchronisiert, bis ein Ereignis passt; `DemoFehler`, wenn nach der Frist keins kam."""
        ende = time.monotonic() + ANTWORTFRIST
        while True:
            for ereignis in self._gesehen:
                if passt(ereignis):
                    return ereignis
            if not lebt():
                raise DemoFehler(f"Der Klimabot läuft nicht mehr (wartete auf {worauf}).")
            rest = ende - time.monotonic()
            if rest <= 0:
                raise DemoFehler(f"Der Klimabot hat binnen {ANTWORTFRIST:.0f} s nicht {worauf}.")
            # Long-Poll: kehrt zurück, sobald etwas Neues da ist.
            await self.synchronisiere(timeout_ms=int(min(rest, 5.0) * 1000))


def _bezug(ereignis: Ereignis) -> dict[str, Any]:
    inhalt = ereignis.get("content")
    bezug = inhalt.get("m.relates_to") if isinstance(inhalt, dict) else None
    return bezug if isinstance(bezug, dict) else {}


def ist_antwort(ereignis: Ereignis, *, von: str, auf: str) -> bool:
    zitat = _bezug(ereignis).get("m.in_reply_to")
    return (
        ereignis.get("sender") == von
        and ereignis.get("type") == "m.room.message"
        and isinstance(zitat, dict)
        and zitat.get("event_id") == auf
    )


def ist_reaktion(ereignis: Ereignis, *, von: str, auf: str) -> bool:
    return (
        ereignis.get("sender") == von
        and ereignis.get("type") == "m.reaction"
        and _bezug(ereignis).get("event_id") == auf
    )


# --- Die Mitschrift --------------------------------------------------------------------------


class Mitschrift:
    """Schreibt lesbar mit, was im Chat passiert – sofort, auch wenn die Ausgabe eine Pipe ist."""

    EINZUG = "    "

    def __init__(self, ausgabe: TextIO) -> None:
        self._ausgabe = ausgabe

    def zeile(self, text: str = "") -> None:
        print(text, file=self._ausgabe, flush=True)

    def ueberschrift(self, text: str) -> None:
        self.zeile()
        self.zeile(f"── {text} " + "─" * max(3, 72 - len(text)))

    def schritt(self, nummer: int, text: str) -> None:
        self.zeile()
        self.zeile(f"{nummer}. {text}")

    def gesagt(self, raum: str, wer: str, text: str) -> None:
        self.zeile(f"[{raum}] {wer}: {text}")

    def reagiert(self, raum: str, wer: str, schluessel: str, worauf: str) -> None:
        self.zeile(f"[{raum}] {wer} reagiert mit {schluessel} auf {worauf}")

    def bot_schreibt(self, ereignis: Ereignis, *, im_thread: bool = False) -> None:
        body = str(ereignis.get("content", {}).get("body", ""))
        zeilen = body.splitlines() or [""]
        wer = "Klimabot (im Thread): " if im_thread else "Klimabot: "
        self.zeile(f"{self.EINZUG}{wer}{zeilen[0]}")
        for zeile in zeilen[1:]:
            self.zeile(f"{self.EINZUG}{' ' * len(wer)}{zeile}".rstrip())

    def bot_reagiert(self, schluessel: str) -> None:
        self.zeile(f"{self.EINZUG}Klimabot reagiert mit {schluessel}")


# --- Die Szene -------------------------------------------------------------------------------


@dataclass
class Buehne:
    bot_id: str
    raeume: dict[str, str]  # Raumadresse → Raum-ID
    raumnamen: dict[str, str]  # Raum-ID → Anzeigename
    mitschrift: Mitschrift
    bot_aufgabe: asyncio.Task[None]
    # Für die Abfrage: der Planer mit gestellter Uhr und die Projekte je Raum, in Reihenfolge.
    planer_zu: Callable[[dt.datetime], Planer]
    naechster_montag: dt.datetime
    projekte_im_raum: dict[str, list[str]]

    def lebt(self) -> bool:
        return not self.bot_aufgabe.done()

    async def frage(self, person: Demoperson, raum_id: str, text: str) -> Ereignis:
        """Person schreibt; zurück kommt die Antwort des Bots (und wird mitgeschrieben)."""
        self.mitschrift.gesagt(self.raumnamen[raum_id], person.name, text)
        event_id = await person.sende(raum_id, text)
        antwort = await person.warte_auf(
            lambda e: ist_antwort(e, von=self.bot_id, auf=event_id),
            worauf=f"auf „{text}“ geantwortet",
            lebt=self.lebt,
        )
        self.mitschrift.bot_schreibt(antwort)
        return antwort

    async def melde(self, person: Demoperson, raum_id: str, text: str) -> None:
        """Eine Meldung per Befehl: Der Bot quittiert mit einer Reaktion (oder erklärt sich)."""
        self.mitschrift.gesagt(self.raumnamen[raum_id], person.name, text)
        event_id = await person.sende(raum_id, text)
        quittung = await person.warte_auf(
            lambda e: (
                ist_reaktion(e, von=self.bot_id, auf=event_id)
                or ist_antwort(e, von=self.bot_id, auf=event_id)
            ),
            worauf=f"„{text}“ quittiert",
            lebt=self.lebt,
        )
        if quittung.get("type") == "m.reaction":
            self.mitschrift.bot_reagiert(str(_bezug(quittung).get("key")))
        else:
            self.mitschrift.bot_schreibt(quittung)

    async def tippe(
        self, person: Demoperson, raum_id: str, nachricht: Ereignis, schluessel: str
    ) -> None:
        """Eine Reaktion auf eine Nachricht des Bots; er bestätigt mit einer Antwort darauf."""
        ziel = str(nachricht["event_id"])
        self.mitschrift.reagiert(
            self.raumnamen[raum_id], person.name, schluessel, "die Nachricht des Klimabots"
        )
        await person.reagiere(raum_id, ziel, schluessel)
        bestaetigung = await person.warte_auf(
            lambda e: ist_antwort(e, von=self.bot_id, auf=ziel),
            worauf=f"die Reaktion {schluessel} bestätigt",
            lebt=self.lebt,
        )
        self.mitschrift.bot_schreibt(bestaetigung)

    async def abfrage(
        self, person: Demoperson, raum_id: str, zeitpunkt: dt.datetime
    ) -> tuple[Ereignis, dict[str, Ereignis]]:
        """Löst die Abfrage zum Zeitpunkt aus; zurück kommen Kopf und die Zeile je Projekt."""
        await self.planer_zu(zeitpunkt).pruefe()
        kopf = await person.warte_auf(
            lambda e: _vom_bot(e, self.bot_id, "Fortschrittsabfrage"),
            worauf="die Abfrage gesendet",
            lebt=self.lebt,
        )
        self.mitschrift.bot_schreibt(kopf)
        zeilen: dict[str, Ereignis] = {}
        for slug in self.projekte_im_raum[raum_id]:
            zeile = await person.warte_auf(
                _projektzeile(self.bot_id, slug),
                worauf=f"die Zeile zu {slug} gesendet",
                lebt=self.lebt,
            )
            self.mitschrift.bot_schreibt(zeile, im_thread=True)
            zeilen[slug] = zeile
        return kopf, zeilen

    async def antworte_im_thread(
        self, person: Demoperson, raum_id: str, kopf: Ereignis, zeile: Ereignis, text: str
    ) -> None:
        self.mitschrift.gesagt(self.raumnamen[raum_id], f"{person.name} (im Thread)", text)
        event_id = await person.sende(
            raum_id, text, thread=str(kopf["event_id"]), antwort_auf=str(zeile["event_id"])
        )
        await person.warte_auf(
            lambda e: ist_reaktion(e, von=self.bot_id, auf=event_id),
            worauf="die Antwort im Thread quittiert",
            lebt=self.lebt,
        )
        self.mitschrift.bot_reagiert("✅")

    async def wochenbericht(self, person: Demoperson, raum_id: str) -> None:
        kopf = await self.frage(person, raum_id, "!bericht")
        energie = await person.warte_auf(
            lambda e: (
                _vom_bot(e, self.bot_id, "Themenfeld Energie")
                and _bezug(e).get("event_id") == kopf["event_id"]
            ),
            worauf="den Wochenbericht für Energie in den Thread gestellt",
            lebt=self.lebt,
        )
        self.mitschrift.bot_schreibt(energie, im_thread=True)
        bild = await person.warte_auf(
            lambda e: (
                e.get("content", {}).get("msgtype") == "m.image"
                and _bezug(e).get("event_id") == kopf["event_id"]
            ),
            worauf="das Ampeldiagramm gesendet",
            lebt=self.lebt,
        )
        inhalt = bild["content"]
        datei = inhalt.get("file")
        quelle = (
            f"{datei.get('url', '')}, verschlüsselt"
            if isinstance(datei, dict)
            else inhalt.get("url")
        )
        self.mitschrift.zeile(
            f"    Klimabot (im Thread): [Bild] {inhalt.get('body', '')} ({quelle})"
        )


def _naechster_montagstermin(zeitzone: ZoneInfo) -> dt.datetime:
    """Der nächste Montag 09:00 (verschoben, falls Feiertag), eine halbe Minute danach."""
    termin = naechster_termin(Zeitplan.aus_text("mo 09:00"), dt.datetime.now(dt.UTC), zeitzone)
    assert termin is not None  # ein wöchentlicher Termin findet sich immer
    return verschiebe_auf_arbeitstag(termin, zeitzone) + dt.timedelta(seconds=30)


def _projektzeile(bot_id: str, slug: str) -> Callable[[Ereignis], bool]:
    def passt(ereignis: Ereignis) -> bool:
        return _vom_bot(ereignis, bot_id, f"({slug})") and _bezug(ereignis).get("rel_type") == (
            "m.thread"
        )

    return passt


def _vom_bot(ereignis: Ereignis, bot_id: str, merkmal: str) -> bool:
    return (
        ereignis.get("sender") == bot_id
        and ereignis.get("type") == "m.room.message"
        and merkmal in str(ereignis.get("content", {}).get("body", ""))
    )


def _person_mit(
    struktur: Struktur, *, patin: str | None = None, koordination: str | None = None
) -> str:
    for person in struktur.personen:
        if (patin is not None and patin in person.patin) or (
            koordination is not None and koordination in person.koordination
        ):
            return person.matrix_id
    raise DemoFehler("Die Beispielstruktur passt nicht zur Szene (Person fehlt).")


def _raum_von(struktur: Struktur, slug: str) -> str:
    for feld in struktur.themenfelder:
        if feld.slug == slug and feld.raum is not None:
            return feld.raum
    raise DemoFehler(f"Die Beispielstruktur passt nicht zur Szene (Themenfeld {slug} fehlt).")


async def spiele_szene(buehne: Buehne, struktur: Struktur, personen: dict[str, Demoperson]) -> None:
    energie = buehne.raeume[_raum_von(struktur, "energie")]
    mobilitaet = buehne.raeume[_raum_von(struktur, "mobilitaet")]
    koordination = personen[_person_mit(struktur, koordination="energie")]
    patin = personen[_person_mit(struktur, patin="energie")]
    andere_patin = personen[_person_mit(struktur, patin="mobilitaet")]
    m = buehne.mitschrift

    m.ueberschrift("Die Szene")
    m.schritt(1, f"{koordination.name} (Klimakoordinator*in Energie) fragt nach dem Stand.")
    await buehne.frage(koordination, energie, "!status energie")

    m.schritt(2, f"{patin.name} (Themenpat*in Energie) meldet per Befehl.")
    await buehne.melde(
        patin,
        energie,
        "!meldung waermeplanung gelb 40% Ausschreibung verzögert sich "
        "Herausforderung: Fachkräfte fehlen",
    )

    m.schritt(
        3, f"Ein Tipp genügt: {patin.name} reagiert mit 🟢 auf die Nachricht zu einem Projekt."
    )
    # Ein Projekt noch ohne Meldung: So zeigt der Stand am Ende die Änderung.
    projektnachricht = await buehne.frage(patin, energie, "!status fernwaerme-dekarbonisierung")
    await buehne.tippe(patin, energie, projektnachricht, "🟢")

    m.schritt(4, f"{andere_patin.name} (Themenpat*in Mobilität) versucht, für Energie zu melden.")
    await buehne.melde(andere_patin, mobilitaet, "!meldung waermeplanung rot")

    m.schritt(5, f"{koordination.name} fragt noch einmal: Beide Meldungen sind im Stand.")
    await buehne.frage(koordination, energie, "!status energie")

    m.schritt(
        6,
        "Montag, 09:00: die Fortschrittsabfrage. (Für die Demo springt die Uhr des Zeitplans "
        "auf den nächsten Montag; gesendet wird wie im Betrieb.)",
    )
    kopf, zeilen = await buehne.abfrage(patin, energie, buehne.naechster_montag)
    await buehne.tippe(patin, energie, zeilen["pv-offensive"], "🟢")
    await buehne.antworte_im_thread(
        koordination,
        energie,
        kopf,
        zeilen["windenergie-flaechen"],
        "gelb, 20 %, Flächenkulisse im Rat vertagt Herausforderung: Beschluss erst im Februar",
    )

    stab = buehne.raeume[f"#{STABSSTELLE_ALIAS}:{DEMO_SERVER}"]
    stabsstelle = personen[next(p.matrix_id for p in struktur.personen if p.stabsstelle)]
    m.schritt(7, f"{stabsstelle.name} (Stabsstelle Klima) holt sich den Wochenbericht.")
    await buehne.wochenbericht(stabsstelle, stab)


# --- Aufbau, Ablauf, Aufräumen ----------------------------------------------------------------


async def _im_thread(funktion: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Blockierende Homeserver-Aufrufe laufen im Thread.

    Kommt währenddessen ein Abbruch, wird der Thread noch zu Ende abgewartet: sonst liefe
    z. B. ein halb gestarteter Synapse weiter, während schon aufgeräumt wird.
    """
    aufgabe = asyncio.ensure_future(asyncio.to_thread(funktion, *args, **kwargs))
    try:
        return await asyncio.shield(aufgabe)
    except asyncio.CancelledError:
        await asyncio.wait({aufgabe})
        if not aufgabe.cancelled():
            aufgabe.exception()  # als abgeholt markieren; der Abbruch geht vor
        raise


def _port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, WUNSCHPORT))
        except OSError:
            return freier_port()
    return WUNSCHPORT


def _schreibe_konfiguration(ordner: Path, url: str, bot: Zugang) -> Path:
    pfad = ordner / "config.toml"
    konfiguration = {
        "matrix": {
            "homeserver": url,
            "benutzer": bot.user_id,
            "passwort": bot.passwort,
            "schluesselpasswort": _passwort(),
            "geraetename": "Klimabot (Demo)",
            "einladungen_von": [DEMO_SERVER],
        },
        "datenbank": {"url": f"sqlite+aiosqlite:///{ordner / 'klimabot.db'}"},
        "bot": {
            "stabsstelle_raum": f"#{STABSSTELLE_ALIAS}:{DEMO_SERVER}",
            "strukturdatei": "struktur.toml",
        },
    }
    pfad.write_text(tomli_w.dumps(konfiguration), encoding="utf-8")
    return pfad


async def _richte_raeume_ein(
    plaene: Sequence[Raumplan],
    personen: dict[str, Demoperson],
    gruender: Demoperson,
    bot_id: str,
) -> dict[str, str]:
    """Legt die Räume an und lässt alle Eingeladenen beitreten; Raumadresse → Raum-ID."""

    async def einrichten(plan: Raumplan) -> str:
        andere = [m for m in plan.mitglieder if m != gruender.user_id]
        raum_id = await gruender.raum_anlegen(plan, [bot_id, *andere])
        await asyncio.gather(*(personen[m].beitreten(raum_id) for m in andere))
        return raum_id

    # Gleichzeitig: Synapse braucht je Raum einige Zehntelsekunden, nacheinander summierte sich das.
    raum_ids = await asyncio.gather(*(einrichten(plan) for plan in plaene))
    return {plan.adresse: raum_id for plan, raum_id in zip(plaene, raum_ids, strict=True)}


def _zeige_anmeldungen(m: Mitschrift, url: str, konten: Konten) -> None:
    m.ueberschrift("Selbst ausprobieren")
    m.zeile(f"Homeserver: {url}   (Servername {DEMO_SERVER}, nur auf diesem Rechner erreichbar)")
    m.zeile()
    alle = [*konten.personen.values(), konten.admin]
    breite_id = max(len(k.zugang.user_id) for k in alle)
    breite_pw = max(len(k.zugang.passwort) for k in alle)
    m.zeile(f"{'Matrix-ID':<{breite_id}}  {'Passwort':<{breite_pw}}  Name – Rolle")
    for konto in alle:
        m.zeile(
            f"{konto.zugang.user_id:<{breite_id}}  {konto.zugang.passwort:<{breite_pw}}  "
            f"{konto.name} – {konto.rolle}"
        )
    m.zeile()
    m.zeile("Anmelden mit Element (Web oder Desktop) oder einem anderen Matrix-Client:")
    m.zeile(f"  „Anmelden“ → beim Homeserver „Ändern“ → {url} eintragen,")
    m.zeile("  dann Benutzername (z. B. anna.becker) und Passwort aus der Tabelle.")
    m.zeile("  Im Raum „Themenfeld Energie“ z. B. !hilfe, !status oder !meldung ausprobieren.")
    m.zeile()
    m.zeile("Strg+C beendet die Demo und räumt auf.")


async def _vorfuehrung(
    ordner: Path, homeserver: LokalerHomeserver, m: Mitschrift, nur_szene: bool
) -> None:
    text = demostruktur(BEISPIELSTRUKTUR.read_text(encoding="utf-8"))
    struktur = parse_struktur(text, BEISPIELSTRUKTUR.name)
    (ordner / "struktur.toml").write_text(text, encoding="utf-8")

    m.zeile(f"Starte Synapse ({DEMO_SERVER}) auf {homeserver.url} …")
    await _im_thread(homeserver.start)
    m.zeile(f"Registriere den Bot und {len(struktur.personen)} Personen der Beispielstruktur …")
    konten = await _im_thread(registriere_alle, homeserver, struktur)

    async with contextlib.AsyncExitStack() as stapel:
        personen: dict[str, Demoperson] = {}
        for matrix_id, konto in konten.personen.items():
            personen[matrix_id] = Demoperson(
                homeserver.url, konto, ordner / "menschen" / _lokalteil(matrix_id)
            )
            stapel.push_async_callback(personen[matrix_id].schliessen)
        bot_profil = Demoperson(homeserver.url, konten.bot, ordner / "menschen" / "bot-profil")
        stapel.push_async_callback(bot_profil.schliessen)
        await asyncio.gather(
            bot_profil.anzeigename_setzen(), *(p.anzeigename_setzen() for p in personen.values())
        )

        plaene = raumplaene(struktur)
        m.zeile(
            f"Lege {len(plaene)} Räume an (Ende-zu-Ende-verschlüsselt), lade die Beteiligten ein …"
        )
        stabsstelle = [p.matrix_id for p in struktur.personen if p.stabsstelle]
        if not stabsstelle:
            raise DemoFehler("Die Beispielstruktur nennt niemanden aus der Stabsstelle Klima.")
        # Die Stabsstelle verwaltet die Struktur, also legt sie auch die Räume an.
        gruender = personen[stabsstelle[0]]
        raeume = await _richte_raeume_ein(plaene, personen, gruender, konten.bot.zugang.user_id)
        # Der erste Sync lädt die Geräteschlüssel hoch: erst dann kann der Bot ihnen schreiben.
        await asyncio.gather(*(p.synchronisiere(timeout_ms=0) for p in personen.values()))

        m.zeile("Starte den Klimabot …")
        konfiguration = _schreibe_konfiguration(ordner, homeserver.url, konten.bot.zugang)
        einstellungen = lade_einstellungen(konfiguration)
        bot = await Klimabot.erzeuge(einstellungen)
        bot_aufgabe = asyncio.create_task(bot.laufen(), name="klimabot")
        try:
            await _warte_bis_bereit(bot, bot_aufgabe)
            buehne = Buehne(
                bot_id=konten.bot.zugang.user_id,
                raeume=raeume,
                raumnamen={raeume[p.adresse]: p.name for p in plaene},
                mitschrift=m,
                bot_aufgabe=bot_aufgabe,
                planer_zu=lambda zeitpunkt: Planer(
                    sitzungen=bot.sitzungen,
                    zeitzone=ZoneInfo(einstellungen.bot.zeitzone),
                    betrieb=betrieb_aus(einstellungen),
                    praefix=einstellungen.bot.befehlspraefix,
                    nach_commit=bot.zusteller.wecken,
                    uhr=lambda: zeitpunkt,
                ),
                naechster_montag=_naechster_montagstermin(ZoneInfo(einstellungen.bot.zeitzone)),
                projekte_im_raum={
                    raeume[feld.raum]: [
                        p.slug for p in struktur.projekte if p.themenfeld == feld.slug
                    ]
                    for feld in struktur.themenfelder
                    if feld.raum is not None
                },
            )
            await spiele_szene(buehne, struktur, personen)
            if nur_szene:
                return
            _zeige_anmeldungen(m, homeserver.url, konten)
            # Abgeschirmt: Strg+C bricht das Warten ab, nicht den Bot; der hält unten geordnet an.
            await asyncio.shield(bot_aufgabe)
            raise DemoFehler("Der Klimabot hat sich unerwartet beendet.")
        finally:
            await _halte_an(bot, bot_aufgabe)


async def _warte_bis_bereit(bot: Klimabot, bot_aufgabe: asyncio.Task[None]) -> None:
    bereit = asyncio.ensure_future(bot.sync.bereit.wait())
    try:
        await asyncio.wait({bereit, bot_aufgabe}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    finally:
        bereit.cancel()
    if bot_aufgabe.done():
        raise DemoFehler("Der Klimabot ist beim Start beendet worden.")
    if not bot.sync.bereit.is_set():
        raise DemoFehler("Der Klimabot ist nach 30 s noch nicht bereit.")


async def _halte_an(bot: Klimabot, bot_aufgabe: asyncio.Task[None]) -> None:
    bot.anhalten()
    fertig, _ = await asyncio.wait({bot_aufgabe}, timeout=20)
    if not fertig:
        log.warning("Klimabot hält nicht an; wird abgebrochen")
        bot_aufgabe.cancel()
        await asyncio.wait({bot_aufgabe})
    if not bot_aufgabe.cancelled() and (fehler := bot_aufgabe.exception()) is not None:
        log.error("Klimabot mit Fehler beendet: %r", fehler)


async def _bis_signal(arbeit: Coroutine[Any, Any, None], halt: asyncio.Event) -> bool:
    """Führt `arbeit` aus, bis sie endet oder `halt` gesetzt wird; `True` bei Halt.

    Der Halt bricht die Arbeit ab; ihre `finally`-Blöcke räumen dabei geordnet auf.
    """
    aufgabe = asyncio.create_task(arbeit, name="demo")
    warten = asyncio.ensure_future(halt.wait())
    try:
        await asyncio.wait({aufgabe, warten}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        warten.cancel()
    if not aufgabe.done():
        aufgabe.cancel()
        await asyncio.wait({aufgabe})
    if aufgabe.cancelled():
        return True
    aufgabe.result()  # Fehler der Arbeit weiterreichen
    return halt.is_set()


async def _demo(ausgabe: TextIO, nur_szene: bool) -> bool:
    # Die Signale gelten bis zuletzt: Ein zweites Strg+C oder ein SIGTERM während des
    # Aufräumens darf Synapse und den Arbeitsordner nicht zurücklassen.
    schleife = asyncio.get_running_loop()
    halt = asyncio.Event()
    signale = (signal.SIGINT, signal.SIGTERM)
    for nummer in signale:
        schleife.add_signal_handler(nummer, halt.set)
    try:
        m = Mitschrift(ausgabe)
        with tempfile.TemporaryDirectory(prefix="klimabot-demo-") as name:
            ordner = Path(name)
            m.zeile(f"Klimabot-Demo – Arbeitsordner {ordner} (wird am Ende gelöscht)")
            # Synapses eigene Ratenlimits wie im Betrieb: Wer die Demo mit Element ausprobiert,
            # erlebt den echten Server, und die Ausnahme für den Bot (s. o.) hat ihren Sinn.
            homeserver = LokalerHomeserver(
                ordner / "synapse", DEMO_SERVER, _port(), ratenlimits=True
            )
            try:
                return await _bis_signal(_vorfuehrung(ordner, homeserver, m, nur_szene), halt)
            finally:
                await _im_thread(homeserver.stop)
    finally:
        for nummer in signale:
            schleife.remove_signal_handler(nummer)


def _ohne_klimabot_umgebung() -> list[str]:
    """Entfernt `KLIMABOT_…`-Variablen: Die Demo soll nie echte Konten oder Datenbanken nutzen."""
    namen = [name for name in os.environ if name.startswith("KLIMABOT_")]
    for name in namen:
        del os.environ[name]
    return namen


def fuehre_vor(*, nur_szene: bool = False, ausgabe: TextIO | None = None) -> int:
    """`klimabot demo`: 0 nach sauberem Ende (auch Strg+C), 2 ohne Synapse, 1 bei Fehler."""
    ausgabe = ausgabe or sys.stdout
    if importlib.util.find_spec("synapse") is None:
        print(
            "Für die Demo fehlt matrix-synapse. `make demo` installiert es "
            "(oder: pip install -e '.[test]').",
            file=sys.stderr,
        )
        return EXIT_EINGABE
    if not BEISPIELSTRUKTUR.exists():
        print(f"Beispielstruktur {BEISPIELSTRUKTUR} nicht gefunden.", file=sys.stderr)
        return EXIT_EINGABE
    if ignoriert := _ohne_klimabot_umgebung():
        print(f"Hinweis: {', '.join(sorted(ignoriert))} gilt in der Demo nicht.", file=ausgabe)
    try:
        angehalten = asyncio.run(_demo(ausgabe, nur_szene))
    except (DemoFehler, HomeserverFehler) as fehler:
        print(f"Die Demo ist gescheitert: {fehler}", file=sys.stderr)
        print("Alles ist aufgeräumt.", file=sys.stderr)
        return EXIT_FEHLER
    m = Mitschrift(ausgabe)
    m.zeile()
    m.zeile(
        "Demo beendet; Homeserver, Bot und Arbeitsordner sind aufgeräumt."
        if angehalten or not nur_szene
        else "Szene beendet; Homeserver, Bot und Arbeitsordner sind aufgeräumt."
    )
    return EXIT_OK
