"""Ein Mensch am Matrix-Client wie Element – der eine für Demo, Integrationstests und Bank.

Er sendet (in verschlüsselten Räumen verschlüsselt, mit eigenen Schlüsseln), reagiert,
bearbeitet, löscht und wartet auf das, was ankommt. Jedes gesehene Ereignis wird mit dem
Zeitpunkt vermerkt, an dem seine Sync-Antwort da war, nach Event-ID und nach dem, worauf es
sich bezieht (Antwort, Reaktion): daraus liest die Bank ihre Zeiten.

Synchronisiert wird auf Abruf (`synchronisiere`, jedes Warten holt selbst nach) oder, für
Messungen, ständig im Hintergrund (`lausche_im_hintergrund`): dann wartet ein Long-Poll
immer schon beim Homeserver, und Warten heißt, auf seine Ergebnisse zu warten.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import ClientError
from nio import (
    Api,
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    LoginResponse,
    ProfileSetDisplayNameResponse,
    RoomCreateResponse,
    RoomRedactResponse,
    RoomSendResponse,
    SyncResponse,
)
from nio.store import SqliteStore

from bot.client import pflege_schluessel
from bot.inhalt import reaktionsinhalt
from bot.niotransport import VERSCHLUESSELUNG, NioTransport
from bot.transport import Sendefehler
from demo.clientinhalt import bearbeitung, textnachricht
from demo.homeserver import Zugang
from demo.luecke import nachholen

log = logging.getLogger(__name__)

# Ein Ereignis, wie der Homeserver es schickt (entschlüsselt, wo es ging) – nicht zu
# verwechseln mit `bot.verarbeitung.Ereignis`, dem, was der Bot daraus liest.
Rohereignis = dict[str, Any]
_T = TypeVar("_T")

# Nur, was jemand ansieht. Ohne Grenze liefert Synapse nur die letzten 10 Ereignisse je Raum;
# was über die Grenze hinausgeht, holt `demo.luecke.nachholen` nach, wie Element es tut.
FILTER: dict[str, Any] = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {
        "timeline": {"limit": 1000},
        "ephemeral": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
    },
}
# Wartet jemand auf Abruf, hält der Homeserver jede Sync-Anfrage höchstens so lange offen.
ABRUF_MS = 500
# Im Hintergrund: so lange hält der Homeserver den Long-Poll offen, wenn nichts kommt.
LONG_POLL_MS = 30_000
# So lange muss der Long-Poll schon unterwegs sein, bis er sicher beim Homeserver wartet.
LAUSCHEN_MINDESTENS = 0.015


class Clientfehler(RuntimeError):
    """Der Homeserver lehnt einen Schritt am Client ab; die Meldung sagt, welchen und warum."""


class NichtGesehen(TimeoutError):
    """Binnen der Frist kam nichts Passendes an (oder das Warten wurde aufgegeben)."""


@dataclass(frozen=True, slots=True)
class Ankunft:
    """Ein gesehenes Ereignis, wie die Bank es braucht: wer, was, und wann es ankam."""

    event_id: str
    absender: str
    typ: str
    zeit: float  # time.perf_counter() beim Eintreffen der Sync-Antwort
    server_ts: int  # origin_server_ts: wann der Homeserver das Ereignis annahm (ms)


def bezug(ereignis: Rohereignis) -> dict[str, Any]:
    """`m.relates_to` des Ereignisses, leer, wenn es keins hat."""
    inhalt = ereignis.get("content")
    beziehung = inhalt.get("m.relates_to") if isinstance(inhalt, dict) else None
    return beziehung if isinstance(beziehung, dict) else {}


def zitiert(ereignis: Rohereignis) -> str | None:
    """Die Event-ID der Nachricht, auf die das Ereignis antwortet."""
    zitat = bezug(ereignis).get("m.in_reply_to")
    event_id = zitat.get("event_id") if isinstance(zitat, dict) else None
    return event_id if isinstance(event_id, str) else None


def bezugsziel(ereignis: Rohereignis) -> str | None:
    """Worauf sich ein Ereignis bezieht: zitierte Nachricht (Antwort) oder Ziel einer Reaktion."""
    ziel = zitiert(ereignis) or bezug(ereignis).get("event_id")
    return ziel if isinstance(ziel, str) else None


def ist_antwort(ereignis: Rohereignis, *, von: str, auf: str) -> bool:
    return (
        ereignis.get("sender") == von
        and ereignis.get("type") == "m.room.message"
        and zitiert(ereignis) == auf
    )


def ist_reaktion(ereignis: Rohereignis, *, von: str, auf: str) -> bool:
    return (
        ereignis.get("sender") == von
        and ereignis.get("type") == "m.reaction"
        and bezug(ereignis).get("event_id") == auf
    )


class Mensch:
    """Mit `schluesselspeicher` ein Client mit Ende-zu-Ende-Verschlüsselung, wie Element."""

    def __init__(
        self,
        url: str,
        zugang: Zugang,
        schluesselspeicher: Path | None = None,
        *,
        name: str | None = None,
    ) -> None:
        self.zugang = zugang
        self.user_id = zugang.user_id
        self.name = name or zugang.user_id
        self.verschluesselt = schluesselspeicher is not None
        if schluesselspeicher is None:
            self.client = AsyncClient(url, zugang.user_id)
        else:
            schluesselspeicher.mkdir(parents=True, exist_ok=True)
            self.client = AsyncClient(
                url,
                zugang.user_id,
                store_path=str(schluesselspeicher),
                config=AsyncClientConfig(
                    encryption_enabled=True,
                    store=SqliteStore,
                    pickle_key=secrets.token_urlsafe(16),
                ),
            )
        self.client.restore_login(zugang.user_id, zugang.device_id or "TEST", zugang.access_token)
        # Wie Element: in verschlüsselten Räumen alles verschlüsselt, auch Reaktionen – dafür
        # taugt der Transport des Bots, der genau das tut (ohne Vertrauen: an alle Geräte).
        self._transport = NioTransport(self.client)
        self._position: str | None = None
        self.gesehen: list[tuple[str, Rohereignis]] = []  # (Raum-ID, Ereignis), wie angekommen
        self.ankuenfte: dict[str, Ankunft] = {}  # nach Event-ID
        self.bezuege: dict[str, list[Ankunft]] = defaultdict(list)  # nach `bezugsziel`
        self._einladungen: dict[str, set[str]] = {}  # Raum-ID → wer einlud
        self._neu = asyncio.Condition()
        self._lauschen: asyncio.Task[None] | None = None
        self._lauscht_seit: float | None = None

    async def schliessen(self) -> None:
        if self._lauschen is not None:
            self._lauschen.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lauschen
            self._lauschen = None
        await self.client.close()

    # --- Konto und Räume ------------------------------------------------------------------

    async def anzeigename_setzen(self) -> None:
        antwort = await self.client.set_displayname(self.name)
        _pruefe(antwort, ProfileSetDisplayNameResponse, f"{self.user_id}: Anzeigename")

    async def zweites_geraet(self, schluesselspeicher: Path) -> Mensch:
        """Dieselbe Person meldet sich ein zweites Mal an (etwa auf dem Handy), mit eigenen
        Schlüsseln, und lädt sie hoch."""
        anmeldung = AsyncClient(self.client.homeserver, self.user_id)
        neu = await anmeldung.login(self.zugang.passwort, device_name="Handy")
        await anmeldung.close()
        neu = _pruefe(neu, LoginResponse, f"{self.user_id}: zweite Anmeldung")
        zugang = Zugang(self.user_id, neu.access_token, self.zugang.passwort, neu.device_id)
        handy = Mensch(self.client.homeserver, zugang, schluesselspeicher, name=self.name)
        await handy.synchronisiere(timeout_ms=0)
        return handy

    async def raum_anlegen(
        self,
        *,
        einladen: Sequence[str],
        name: str = "Testraum",
        verschluesselt: bool = False,
        alias: str | None = None,
        thema: str | None = None,
    ) -> str:
        """Legt einen privaten Raum an (`alias` ohne `#` und Server) und lädt ein."""
        antwort = await self.client.room_create(
            alias=alias,
            name=name,
            topic=thema,
            invite=list(einladen),
            initial_state=[VERSCHLUESSELUNG] if verschluesselt else (),
        )
        antwort = _pruefe(antwort, RoomCreateResponse, f"{self.user_id}: Raum {alias or name}")
        return str(antwort.room_id)

    async def beitreten(self, raum_id: str) -> None:
        antwort = await self.client.join(raum_id)
        _pruefe(antwort, JoinResponse, f"{self.user_id}: Beitritt zu {raum_id}")

    async def nimm_einladung_an(self, *, von: str, frist: float = 15.0) -> str:
        """Wartet auf eine Einladung von `von`, tritt bei und gibt die Raum-ID zurück."""

        def eingeladen() -> str | None:
            return next((r for r, wer in self._einladungen.items() if von in wer), None)

        raum_id = await self._warte_bis(eingeladen, frist=frist, was=f"eine Einladung von {von}")
        del self._einladungen[raum_id]
        await self.beitreten(raum_id)
        return raum_id

    # --- Senden ---------------------------------------------------------------------------

    async def _sende(self, raum_id: str, typ: str, inhalt: dict[str, Any]) -> str:
        if self.client.olm is not None and self._lauschen is None:
            # Erst auf den neuesten Stand, wie ein laufender Client es längst wäre: sonst
            # fehlen neue Mitglieder und Geräte (im Hintergrund hält der Long-Poll ihn aktuell).
            await self.synchronisiere(timeout_ms=0)
        try:
            return await self._transport.sende(raum_id, typ, inhalt, uuid.uuid4().hex)
        except Sendefehler as fehler:
            raise Clientfehler(f"{self.name} konnte nicht senden: {fehler}") from fehler

    async def sende(
        self, raum_id: str, text: str, *, antwort_auf: str | None = None, thread: str | None = None
    ) -> str:
        inhalt = textnachricht(text, antwort_auf=antwort_auf, thread=thread)
        return await self._sende(raum_id, "m.room.message", inhalt)

    async def reagiere(self, raum_id: str, event_id: str, schluessel: str) -> str:
        return await self._sende(raum_id, "m.reaction", reaktionsinhalt(event_id, schluessel))

    async def bearbeite(self, raum_id: str, event_id: str, neuer_text: str) -> str:
        return await self._sende(raum_id, "m.room.message", bearbeitung(event_id, neuer_text))

    async def loesche(self, raum_id: str, event_id: str) -> None:
        antwort = await self.client.room_redact(raum_id, event_id)
        _pruefe(antwort, RoomRedactResponse, f"{self.user_id}: Löschen von {event_id}")

    async def sende_gefaelscht(self, raum_id: str, klartext: dict[str, Any]) -> str:
        """Verschlüsselt beliebigen Klartext als Raumereignis – wie ein manipulierter Client.

        Der Inhalt einer verschlüsselten Nachricht ist frei wählbar: Typ, `state_key`, `redacts`.
        """
        assert self.client.olm is not None
        await self.sende(raum_id, "Hallo")  # sorgt dafür, dass der Raumschlüssel geteilt ist
        inhalt = self.client.olm.group_encrypt(raum_id, dict(klartext))
        methode, pfad, daten = Api.room_send(
            self.client.access_token, raum_id, "m.room.encrypted", inhalt, uuid.uuid4().hex
        )
        antwort = await self.client._send(RoomSendResponse, methode, pfad, daten, (raum_id,))
        antwort = _pruefe(antwort, RoomSendResponse, f"{self.user_id}: gefälschtes Ereignis")
        return str(antwort.event_id)

    async def teile_raumschluessel_ohne(self, raum_id: str, zurueckhalten: str) -> dict[str, Any]:
        """Teilt einen neuen Raumschlüssel mit allen Geräten außer denen von `zurueckhalten`.

        Gibt die zurückgehaltenen To-Device-Nachrichten zurück: So kommt der Schlüssel bei
        dieser Person später an als die Nachrichten – wie bei verzögerter Zustellung.
        """
        client = self.client
        assert client.olm is not None
        await self.synchronisiere(timeout_ms=0)
        await client.joined_members(raum_id)
        if client.should_query_keys:
            await client.keys_query()
        fehlend = client.get_missing_sessions(raum_id)
        if fehlend:
            await client.keys_claim(fehlend)
        zurueck: dict[str, Any] = {}
        for _mit, nachrichten in client.olm.share_group_session_parallel(
            raum_id, list(client.rooms[raum_id].users), ignore_unverified_devices=True
        ):
            gehalten = nachrichten["messages"].pop(zurueckhalten, None)
            if gehalten:
                zurueck[zurueckhalten] = gehalten
            if nachrichten["messages"]:
                await self.an_geraete(nachrichten["messages"])
        client.olm.outbound_group_sessions[raum_id].shared = True
        if not zurueck:
            raise Clientfehler(
                f"{zurueckhalten} hat kein Gerät, dem ein Schlüssel vorzuenthalten wäre"
            )
        return zurueck

    async def an_geraete(self, nachrichten: dict[str, Any]) -> None:
        """Sendet verschlüsselte To-Device-Nachrichten ({Person: {Gerät: Inhalt}})."""
        methode, pfad, daten = Api.to_device(
            self.client.access_token, "m.room.encrypted", {"messages": nachrichten}, uuid.uuid4()
        )
        antwort = await self.client.send(methode, pfad, daten)
        if antwort.status != 200:
            raise Clientfehler(f"{self.user_id}: To-Device abgelehnt: {await antwort.text()}")

    async def benachrichtigungen(self) -> list[Rohereignis]:
        """Was der Homeserver dieser Person gemeldet hat (`GET /notifications`), neueste zuerst.

        Synapse wertet ihre Pushregeln beim Senden aus; was hier fehlt, hat auch ihr Telefon
        nicht erreicht.
        """
        antwort = await self.client.send(
            "GET",
            "/_matrix/client/v3/notifications?limit=100",
            headers={"Authorization": f"Bearer {self.client.access_token}"},
        )
        if antwort.status != 200:
            raise Clientfehler(f"{self.user_id}: Benachrichtigungen: {await antwort.text()}")
        daten = await antwort.json()
        return list(daten["notifications"])

    # --- Sync -----------------------------------------------------------------------------

    async def synchronisiere(self, timeout_ms: int = ABRUF_MS) -> bool:
        """Holt Neues (Long-Poll bis `timeout_ms`), vermerkt es und pflegt die eigenen Schlüssel.

        `False`, wenn der Homeserver den Sync ablehnte: der nächste holt es nach.
        """
        self._lauscht_seit = time.perf_counter()
        try:
            antwort = await self.client.sync(
                timeout=timeout_ms, since=self._position, sync_filter=FILTER
            )
        finally:
            self._lauscht_seit = None
        zeit = time.perf_counter()
        if not isinstance(antwort, SyncResponse):
            log.warning("Sync von %s gescheitert: %s", self.user_id, antwort)
            return False
        self._position = antwort.next_batch
        neu = False
        for raum_id, raum in antwort.rooms.join.items():
            self._einladungen.pop(raum_id, None)
            ereignisse = [e.source for e in raum.timeline.events]
            if raum.timeline.limited and raum.timeline.prev_batch:
                fehlend = await nachholen(
                    self.client, raum_id, raum.timeline.prev_batch, bekannt=self.ankuenfte
                )
                ereignisse = [e.source for e in fehlend] + ereignisse
            for ereignis in ereignisse:
                self._vermerke(raum_id, ereignis, zeit)
                neu = True
        for raum_id, einladung in antwort.rooms.invite.items():
            wer = {getattr(e, "sender", None) for e in einladung.invite_state}
            self._einladungen[raum_id] = {w for w in wer if isinstance(w, str)}
            neu = True
        for raum_id in antwort.rooms.leave:
            self._einladungen.pop(raum_id, None)
        if neu:
            async with self._neu:
                self._neu.notify_all()
        await pflege_schluessel(self.client)
        return True

    def _vermerke(self, raum_id: str, roh: Rohereignis, zeit: float) -> None:
        self.gesehen.append((raum_id, roh))
        event_id = roh.get("event_id")
        if not isinstance(event_id, str) or event_id in self.ankuenfte:
            return
        server_ts = roh.get("origin_server_ts")
        ankunft = Ankunft(
            event_id,
            str(roh.get("sender")),
            str(roh.get("type")),
            zeit,
            server_ts if isinstance(server_ts, int) else 0,
        )
        self.ankuenfte[event_id] = ankunft
        if (ziel := bezugsziel(roh)) is not None:
            self.bezuege[ziel].append(ankunft)

    async def lausche_im_hintergrund(self) -> None:
        """Erster Sync, dann wartet ständig ein Long-Poll beim Homeserver (wie in Element).

        Von da an synchronisiert nur noch er; wer wartet, wartet auf seine Ergebnisse.
        """
        await self.synchronisiere(timeout_ms=0)
        self._lauschen = asyncio.create_task(self._lausche(), name=f"sync {self.user_id}")

    async def _lausche(self) -> None:
        while True:
            try:
                geklappt = await self.synchronisiere(timeout_ms=LONG_POLL_MS)
            except (ClientError, TimeoutError) as fehler:
                # Eine gestorbene Sync-Aufgabe ließe jedes weitere Warten in seine Frist laufen.
                log.warning("Sync von %s gescheitert: %r", self.user_id, fehler)
                geklappt = False
            if not geklappt:
                await asyncio.sleep(0.5)

    async def lauscht(self) -> None:
        """Kehrt zurück, sobald der Long-Poll schon eine Weile beim Homeserver wartet."""
        if self._lauschen is None:
            raise RuntimeError("lauscht() nur nach lausche_im_hintergrund()")
        while True:
            seit = self._lauscht_seit
            if seit is not None:
                rest = seit + LAUSCHEN_MINDESTENS - time.perf_counter()
                if rest <= 0:
                    return
                await asyncio.sleep(rest)
            else:
                await asyncio.sleep(0.002)

    # --- Warten ---------------------------------------------------------------------------

    async def _warte_bis(
        self,
        gefunden: Callable[[], _T | None],
        *,
        frist: float,
        was: str,
        solange: Callable[[], bool] | None = None,
    ) -> _T:
        """Bis `gefunden()` etwas liefert; `NichtGesehen` nach der Frist oder wenn `solange()`
        nicht mehr gilt."""
        ende = time.monotonic() + frist
        while True:
            treffer = gefunden()
            if treffer is not None:
                return treffer
            rest = ende - time.monotonic()
            if rest <= 0 or (solange is not None and not solange()):
                raise NichtGesehen(f"{self.name} wartete {frist:g} s vergeblich auf {was}")
            if self._lauschen is None:
                await self.synchronisiere(timeout_ms=int(min(rest * 1000, ABRUF_MS)))
                continue
            # Unter der Sperre geprüft, unter der auch gemeldet wird: nichts geht verloren.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(rest), self._neu:
                    await self._neu.wait_for(lambda: gefunden() is not None)

    async def warte_auf(
        self,
        bedingung: Callable[[str, Rohereignis], bool],
        *,
        frist: float = 15.0,
        was: str = "etwas Passendes",
        solange: Callable[[], bool] | None = None,
    ) -> Rohereignis:
        """Bis ein Ereignis die Bedingung erfüllt (auch ein schon gesehenes)."""

        def gefunden() -> Rohereignis | None:
            return next((e for r, e in self.gesehen if bedingung(r, e)), None)

        return await self._warte_bis(gefunden, frist=frist, was=was, solange=solange)

    async def antwort_auf(self, event_id: str, *, von: str, frist: float = 15.0) -> Rohereignis:
        """Die Nachricht von `von`, die auf `event_id` antwortet."""
        return await self.warte_auf(
            lambda _r, e: ist_antwort(e, von=von, auf=event_id),
            frist=frist,
            was=f"die Antwort von {von} auf {event_id}",
        )

    async def reaktion_auf(self, event_id: str, *, von: str, frist: float = 15.0) -> str:
        ereignis = await self.warte_auf(
            lambda _r, e: ist_reaktion(e, von=von, auf=event_id),
            frist=frist,
            was=f"die Reaktion von {von} auf {event_id}",
        )
        return str(bezug(ereignis)["key"])

    def nachrichten_von(self, absender: str, raum_id: str | None = None) -> list[Rohereignis]:
        return [
            e
            for r, e in self.gesehen
            if e.get("sender") == absender
            and e.get("type") == "m.room.message"
            and (raum_id is None or r == raum_id)
        ]

    async def ruhe(self, sekunden: float = 1.0) -> None:
        """Gibt dem Bot Zeit und sammelt alles, was in der Zeit ankommt."""
        await asyncio.sleep(sekunden)
        if self._lauschen is None:
            await self.synchronisiere(timeout_ms=0)

    def _erste_ankunft(self, event_id: str, von: str | None) -> Ankunft | None:
        if von is None:
            return self.ankuenfte.get(event_id)
        return next((a for a in self.bezuege.get(event_id, ()) if a.absender == von), None)

    async def ankunft(self, event_id: str, *, von: str | None, frist: float = 30.0) -> Ankunft:
        """Die erste Antwort/Reaktion von `von` auf `event_id`, oder mit `von=None` das
        Ereignis selbst, wie es im eigenen Sync zurückkommt – mit dem Zeitpunkt der Ankunft."""
        return await self._warte_bis(
            lambda: self._erste_ankunft(event_id, von),
            frist=frist,
            was=f"{event_id} oder eine Antwort von {von} darauf",
        )

    async def warte_auf_alle(
        self, event_ids: list[str], *, von: str, frist: float
    ) -> dict[str, list[Ankunft]]:
        """Wartet, bis jedes Ereignis mindestens eine Antwort von `von` hat (oder die Frist
        endet); gibt je Ereignis alle Antworten von `von` zurück, auch doppelte."""

        def alle_da() -> bool | None:
            return all(self._erste_ankunft(e, von) for e in event_ids) or None

        with contextlib.suppress(NichtGesehen):
            await self._warte_bis(alle_da, frist=frist, was=f"alle Antworten von {von}")
        return {e: [a for a in self.bezuege.get(e, ()) if a.absender == von] for e in event_ids}


def _pruefe(antwort: object, erwartet: type[_T], schritt: str) -> _T:
    if not isinstance(antwort, erwartet):
        grund = getattr(antwort, "message", None) or antwort
        raise Clientfehler(f"{schritt} gescheitert: {grund}")
    return antwort
