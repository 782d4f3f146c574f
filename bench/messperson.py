"""Eine Person als Messinstrument: ein echter matrix-nio-Client mit ständig wartendem Long-Poll.

Der Sync läuft ununterbrochen im Hintergrund (wie in Element). Jedes ankommende Ereignis
wird mit dem Zeitpunkt vermerkt, an dem seine Sync-Antwort da war, nach Event-ID und nach
dem, worauf es sich bezieht (Antwort, Reaktion). Eine Messung wartet, bis der Long-Poll
schon beim Homeserver liegt, sendet dann und liest die Ankunft der Antwort aus dem Vermerk –
ohne Wettlauf zwischen `room_send` und Sync, denn vermerkt wird alles.

Verschlüsselt pflegt die Person ihre Schlüssel nach jedem Sync wie `sync_forever` es tut
(hochladen, abfragen, beanspruchen, To-Device senden), bevor der nächste Long-Poll beginnt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientError
from nio import (
    AsyncClient,
    AsyncClientConfig,
    MessageDirection,
    RoomCreateResponse,
    RoomMessagesResponse,
    RoomSendResponse,
    SyncResponse,
    UploadFilterResponse,
)
from nio.store import SqliteStore

from bot.homeserver import Zugang

log = logging.getLogger(__name__)

# Nichts, was nicht gemessen wird. Synapse schickt je Raum und Sync höchstens 100 Ereignisse;
# was darüber hinausgeht, holt `_luecke` nach, wie Element es tut.
FILTER: dict[str, Any] = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {
        "timeline": {"limit": 100},
        "ephemeral": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
    },
}
# So lange muss der Long-Poll schon unterwegs sein, bis er sicher beim Homeserver wartet.
LAUSCHEN_MINDESTENS = 0.015
VERSCHLUESSELUNG = {"algorithm": "m.megolm.v1.aes-sha2"}


@dataclass(frozen=True, slots=True)
class Ankunft:
    event_id: str
    absender: str
    typ: str
    zeit: float  # time.perf_counter() beim Eintreffen der Sync-Antwort
    server_ts: int  # origin_server_ts: wann der Homeserver das Ereignis annahm (ms)


def bezug(inhalt: dict[str, Any]) -> str | None:
    """Worauf sich ein Ereignis bezieht: zitierte Nachricht (Antwort) oder Ziel einer Reaktion."""
    beziehung = inhalt.get("m.relates_to")
    if not isinstance(beziehung, dict):
        return None
    zitat = beziehung.get("m.in_reply_to")
    if isinstance(zitat, dict) and isinstance(zitat.get("event_id"), str):
        return str(zitat["event_id"])
    ziel = beziehung.get("event_id")
    return ziel if isinstance(ziel, str) else None


class Messperson:
    def __init__(self, url: str, zugang: Zugang, *, speicher: Path | None = None) -> None:
        self.zugang = zugang
        self.user_id = zugang.user_id
        self.verschluesselt = speicher is not None
        if speicher is not None:
            speicher.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(
            url,
            zugang.user_id,
            device_id=zugang.device_id,
            store_path=str(speicher) if speicher is not None else "",
            config=AsyncClientConfig(
                encryption_enabled=self.verschluesselt,
                store=SqliteStore,
                request_timeout=120,
                max_timeouts=0,
            ),
        )
        self.client.restore_login(zugang.user_id, zugang.device_id, zugang.access_token)
        self.ereignisse: dict[str, Ankunft] = {}
        self.bezuege: dict[str, list[Ankunft]] = defaultdict(list)
        self._neu = asyncio.Condition()
        self._lauscht_seit: float | None = None
        self._aufgabe: asyncio.Task[None] | None = None
        self._filter_id: str | None = None
        self._position: str | None = None

    # --- Aufbau ------------------------------------------------------------------------

    async def raum_anlegen(
        self, *, einladen: list[str], name: str, verschluesselt: bool = False
    ) -> str:
        zustand = (
            [{"type": "m.room.encryption", "state_key": "", "content": VERSCHLUESSELUNG}]
            if verschluesselt
            else []
        )
        antwort = await self.client.room_create(name=name, invite=einladen, initial_state=zustand)
        assert isinstance(antwort, RoomCreateResponse), antwort
        return str(antwort.room_id)

    async def beitreten(self, raum_id: str) -> None:
        await self.client.join(raum_id)

    async def starten(self) -> None:
        """Erster Sync (voller Zustand, ohne Verlauf), dann läuft der Long-Poll im Hintergrund."""
        antwort = await self.client.upload_filter(
            presence=FILTER["presence"], account_data=FILTER["account_data"], room=FILTER["room"]
        )
        assert isinstance(antwort, UploadFilterResponse), antwort
        self._filter_id = antwort.filter_id
        erster = await self.client.sync(timeout=0, full_state=True, sync_filter=self._filter_id)
        assert isinstance(erster, SyncResponse), erster
        self._position = erster.next_batch
        await self._schluesselpflege()
        self._aufgabe = asyncio.create_task(self._lauschen(), name=f"sync {self.user_id}")

    async def schliessen(self) -> None:
        if self._aufgabe is not None:
            self._aufgabe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._aufgabe
        await self.client.close()

    # --- Sync ----------------------------------------------------------------------------

    async def _schluesselpflege(self) -> None:
        if not self.verschluesselt:
            return
        client = self.client
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()

    async def _lauschen(self) -> None:
        while True:
            self._lauscht_seit = time.perf_counter()
            try:
                antwort = await self.client.sync(
                    timeout=30_000, since=self._position, sync_filter=self._filter_id
                )
            except (ClientError, TimeoutError) as fehler:
                # Eine gestorbene Sync-Aufgabe ließe jede weitere Messung in ihre Frist laufen.
                antwort = fehler
            zeit = time.perf_counter()
            self._lauscht_seit = None
            if not isinstance(antwort, SyncResponse):
                log.warning("Sync von %s gescheitert: %s", self.user_id, antwort)
                await asyncio.sleep(0.5)
                continue
            self._position = antwort.next_batch
            neu = False
            for raum_id, raum in antwort.rooms.join.items():
                ereignisse = [e.source for e in raum.timeline.events]
                if raum.timeline.limited and raum.timeline.prev_batch:
                    ereignisse = await self._luecke(raum_id, raum.timeline.prev_batch) + ereignisse
                for ereignis in ereignisse:
                    neu |= self._vermerke(ereignis, zeit)
            if neu:
                async with self._neu:
                    self._neu.notify_all()
            await self._schluesselpflege()

    async def _luecke(self, raum_id: str, von: str) -> list[dict[str, Any]]:
        """Was ein abgeschnittener Sync ausließ, älteste zuerst (bis zu schon Vermerktem)."""
        gesammelt: list[dict[str, Any]] = []
        start = von
        for _ in range(50):
            seite = await self.client.room_messages(
                raum_id, start=start, direction=MessageDirection.back, limit=100
            )
            if not isinstance(seite, RoomMessagesResponse) or not seite.chunk:
                break
            for ereignis in seite.chunk:
                if ereignis.event_id in self.ereignisse:
                    return list(reversed(gesammelt))
                gesammelt.append(ereignis.source)
            if not seite.end or seite.end == start:
                break
            start = seite.end
        return list(reversed(gesammelt))

    def _vermerke(self, roh: dict[str, Any], zeit: float) -> bool:
        event_id = roh.get("event_id")
        if not isinstance(event_id, str) or event_id in self.ereignisse:
            return False
        inhalt = roh.get("content")
        server_ts = roh.get("origin_server_ts")
        ankunft = Ankunft(
            event_id,
            str(roh.get("sender")),
            str(roh.get("type")),
            zeit,
            server_ts if isinstance(server_ts, int) else 0,
        )
        self.ereignisse[event_id] = ankunft
        if isinstance(inhalt, dict) and (ziel := bezug(inhalt)) is not None:
            self.bezuege[ziel].append(ankunft)
        return True

    async def lauscht(self) -> None:
        """Kehrt zurück, sobald der Long-Poll schon eine Weile beim Homeserver wartet."""
        while True:
            seit = self._lauscht_seit
            if seit is not None:
                rest = seit + LAUSCHEN_MINDESTENS - time.perf_counter()
                if rest <= 0:
                    return
                await asyncio.sleep(rest)
            else:
                await asyncio.sleep(0.002)

    # --- Senden und Warten -----------------------------------------------------------------

    async def sende(self, raum_id: str, text: str) -> tuple[str, float]:
        """Sendet eine Textnachricht; gibt Event-ID und Sendezeitpunkt (perf_counter) zurück."""
        beginn = time.perf_counter()
        antwort = await self.client.room_send(
            raum_id,
            "m.room.message",
            {"msgtype": "m.text", "body": text},
            ignore_unverified_devices=True,
        )
        assert isinstance(antwort, RoomSendResponse), antwort
        return str(antwort.event_id), beginn

    async def warte_auf(self, event_id: str, *, von: str | None, frist: float = 30) -> Ankunft:
        """Die erste Antwort/Reaktion von `von` auf `event_id`, oder mit `von=None` das
        Ereignis selbst, wie es im eigenen Sync zurückkommt."""

        def gefunden() -> Ankunft | None:
            if von is None:
                return self.ereignisse.get(event_id)
            return next((a for a in self.bezuege.get(event_id, ()) if a.absender == von), None)

        async with asyncio.timeout(frist), self._neu:
            await self._neu.wait_for(lambda: gefunden() is not None)
        treffer = gefunden()
        assert treffer is not None
        return treffer

    async def warte_auf_alle(
        self, event_ids: list[str], *, von: str, frist: float
    ) -> dict[str, list[Ankunft]]:
        """Wartet, bis jedes Ereignis mindestens eine Antwort von `von` hat (oder die Frist
        endet); gibt je Ereignis alle Antworten von `von` zurück, auch doppelte."""

        def alle_da() -> bool:
            return all(any(a.absender == von for a in self.bezuege.get(e, ())) for e in event_ids)

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(frist), self._neu:
                await self._neu.wait_for(alle_da)
        return {e: [a for a in self.bezuege.get(e, ()) if a.absender == von] for e in event_ids}
