"""Eine Person mit echtem Matrix-Client: sendet wie Element und wartet auf das, was der Bot sagt."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from nio import AsyncClient, RoomCreateResponse, RoomSendResponse, SyncResponse

from bot.homeserver import Zugang
from bot.inhalt import bearbeitung, reaktionsinhalt, textnachricht

Ereignis = dict[str, Any]
# Ohne Filter liefert Synapse nur die letzten 10 Ereignisse je Raum.
_ALLES_SEHEN = {"room": {"timeline": {"limit": 1000}}}


class Mensch:
    def __init__(self, url: str, zugang: Zugang) -> None:
        self.zugang = zugang
        self.user_id = zugang.user_id
        self.client = AsyncClient(url, zugang.user_id)
        self.client.restore_login(zugang.user_id, zugang.device_id or "TEST", zugang.access_token)
        self._position: str | None = None
        self.gesehen: list[tuple[str, Ereignis]] = []

    async def schliessen(self) -> None:
        await self.client.close()

    async def raum_anlegen(self, *, einladen: list[str], name: str = "Testraum") -> str:
        antwort = await self.client.room_create(name=name, invite=einladen)
        assert isinstance(antwort, RoomCreateResponse), antwort
        return str(antwort.room_id)

    async def beitreten(self, raum_id: str) -> None:
        await self.client.join(raum_id)

    async def _sende(self, raum_id: str, typ: str, inhalt: dict[str, Any]) -> str:
        antwort = await self.client.room_send(raum_id, typ, inhalt)
        assert isinstance(antwort, RoomSendResponse), antwort
        return str(antwort.event_id)

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
        await self.client.room_redact(raum_id, event_id)

    async def synchronisiere(self, timeout_ms: int = 500) -> None:
        antwort = await self.client.sync(
            timeout=timeout_ms, since=self._position, sync_filter=_ALLES_SEHEN
        )
        assert isinstance(antwort, SyncResponse), antwort
        self._position = antwort.next_batch
        for raum_id, raum in antwort.rooms.join.items():
            self.gesehen.extend((raum_id, e.source) for e in raum.timeline.events)

    async def warte_auf(
        self, bedingung: Callable[[str, Ereignis], bool], *, frist: float = 15.0
    ) -> Ereignis:
        """Synchronisiert, bis ein Ereignis die Bedingung erfüllt (auch ein schon gesehenes)."""
        ende = time.monotonic() + frist
        while True:
            for raum_id, ereignis in self.gesehen:
                if bedingung(raum_id, ereignis):
                    return ereignis
            if time.monotonic() > ende:
                raise AssertionError(f"Nichts Passendes binnen {frist} s gesehen")
            await self.synchronisiere()

    async def antwort_auf(self, event_id: str, *, von: str, frist: float = 15.0) -> Ereignis:
        """Die Nachricht von `von`, die auf `event_id` antwortet."""
        return await self.warte_auf(
            lambda _r, e: (
                e.get("sender") == von
                and e.get("type") == "m.room.message"
                and _bezug(e) == event_id
            ),
            frist=frist,
        )

    async def reaktion_auf(self, event_id: str, *, von: str, frist: float = 15.0) -> str:
        ereignis = await self.warte_auf(
            lambda _r, e: (
                e.get("sender") == von
                and e.get("type") == "m.reaction"
                and e["content"].get("m.relates_to", {}).get("event_id") == event_id
            ),
            frist=frist,
        )
        return str(ereignis["content"]["m.relates_to"]["key"])

    def nachrichten_von(self, absender: str, raum_id: str | None = None) -> list[Ereignis]:
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
        await self.synchronisiere(timeout_ms=0)


def _bezug(ereignis: Ereignis) -> str | None:
    bezug = ereignis.get("content", {}).get("m.relates_to", {})
    zitat = bezug.get("m.in_reply_to", {})
    return zitat.get("event_id") if isinstance(zitat, dict) else None
