"""Eine Person mit echtem Matrix-Client: sendet wie Element und wartet auf das, was der Bot sagt."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nio import (
    Api,
    AsyncClient,
    AsyncClientConfig,
    LoginResponse,
    RoomCreateResponse,
    RoomRedactResponse,
    RoomSendResponse,
    SyncResponse,
)
from nio.store import SqliteStore

from bot.client import pflege_schluessel
from bot.homeserver import Zugang
from bot.inhalt import bearbeitung, reaktionsinhalt, textnachricht
from bot.niotransport import VERSCHLUESSELUNG, NioTransport

Ereignis = dict[str, Any]
# Ohne Filter liefert Synapse nur die letzten 10 Ereignisse je Raum.
_ALLES_SEHEN = {"room": {"timeline": {"limit": 1000}}}


class Mensch:
    """Mit `schluesselspeicher` ein Client mit Ende-zu-Ende-Verschlüsselung, wie Element."""

    def __init__(self, url: str, zugang: Zugang, schluesselspeicher: Path | None = None) -> None:
        self.zugang = zugang
        self.user_id = zugang.user_id
        if schluesselspeicher is None:
            self.client = AsyncClient(url, zugang.user_id)
        else:
            schluesselspeicher.mkdir(parents=True, exist_ok=True)
            self.client = AsyncClient(
                url,
                zugang.user_id,
                store_path=str(schluesselspeicher),
                config=AsyncClientConfig(
                    encryption_enabled=True, store=SqliteStore, pickle_key="mensch"
                ),
            )
        self.client.restore_login(zugang.user_id, zugang.device_id or "TEST", zugang.access_token)
        self._position: str | None = None
        self.gesehen: list[tuple[str, Ereignis]] = []

    async def schliessen(self) -> None:
        await self.client.close()

    async def zweites_geraet(self, schluesselspeicher: Path) -> Mensch:
        """Dieselbe Person meldet sich ein zweites Mal an (etwa auf dem Handy), mit eigenen
        Schlüsseln, und lädt sie hoch."""
        anmeldung = AsyncClient(self.client.homeserver, self.user_id)
        neu = await anmeldung.login(self.zugang.passwort, device_name="Handy")
        await anmeldung.close()
        assert isinstance(neu, LoginResponse), neu
        zugang = Zugang(self.user_id, neu.access_token, self.zugang.passwort, neu.device_id)
        handy = Mensch(self.client.homeserver, zugang, schluesselspeicher)
        await handy.synchronisiere(timeout_ms=0)
        return handy

    async def raum_anlegen(
        self, *, einladen: list[str], name: str = "Testraum", verschluesselt: bool = False
    ) -> str:
        antwort = await self.client.room_create(
            name=name, invite=einladen, initial_state=[VERSCHLUESSELUNG] if verschluesselt else ()
        )
        assert isinstance(antwort, RoomCreateResponse), antwort
        return str(antwort.room_id)

    async def beitreten(self, raum_id: str) -> None:
        await self.client.join(raum_id)

    async def nimm_einladung_an(self, *, von: str, frist: float = 15.0) -> str:
        """Wartet auf eine Einladung von `von`, tritt bei und gibt die Raum-ID zurück."""
        ende = time.monotonic() + frist
        while time.monotonic() < ende:
            antwort = await self.client.sync(
                timeout=500, since=self._position, sync_filter=_ALLES_SEHEN
            )
            assert isinstance(antwort, SyncResponse), antwort
            self._position = antwort.next_batch
            for raum_id, raum in antwort.rooms.join.items():
                self.gesehen.extend((raum_id, e.source) for e in raum.timeline.events)
            for raum_id, einladung in antwort.rooms.invite.items():
                if any(getattr(e, "sender", None) == von for e in einladung.invite_state):
                    await self.beitreten(raum_id)
                    return str(raum_id)
        raise AssertionError(f"Keine Einladung von {von} binnen {frist} s")

    async def _sende(self, raum_id: str, typ: str, inhalt: dict[str, Any]) -> str:
        if self.client.olm is not None:
            # Wie Element: in verschlüsselten Räumen alles verschlüsselt, auch Reaktionen –
            # dafür taugt der Transport des Bots, der genau das tut. Vorher synchronisieren,
            # wie ein laufender Client es längst hätte: sonst fehlen neue Mitglieder und Geräte.
            await self.synchronisiere(timeout_ms=0)
            return await NioTransport(self.client).sende(raum_id, typ, inhalt, uuid.uuid4().hex)
        antwort = await self.client.room_send(raum_id, typ, inhalt)
        assert isinstance(antwort, RoomSendResponse), antwort
        return str(antwort.event_id)

    async def sende(
        self, raum_id: str, text: str, *, antwort_auf: str | None = None, thread: str | None = None
    ) -> str:
        inhalt = textnachricht(text, antwort_auf=antwort_auf, thread=thread)
        return await self._sende(raum_id, "m.room.message", inhalt)

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
        assert isinstance(antwort, RoomSendResponse), antwort
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
        assert zurueck, f"{zurueckhalten} hat kein Gerät, dem ein Schlüssel vorzuenthalten wäre"
        return zurueck

    async def an_geraete(self, nachrichten: dict[str, Any]) -> None:
        """Sendet verschlüsselte To-Device-Nachrichten ({Person: {Gerät: Inhalt}})."""
        methode, pfad, daten = Api.to_device(
            self.client.access_token, "m.room.encrypted", {"messages": nachrichten}, uuid.uuid4()
        )
        antwort = await self.client.send(methode, pfad, daten)
        assert antwort.status == 200, await antwort.text()

    async def reagiere(self, raum_id: str, event_id: str, schluessel: str) -> str:
        return await self._sende(raum_id, "m.reaction", reaktionsinhalt(event_id, schluessel))

    async def bearbeite(self, raum_id: str, event_id: str, neuer_text: str) -> str:
        return await self._sende(raum_id, "m.room.message", bearbeitung(event_id, neuer_text))

    async def loesche(self, raum_id: str, event_id: str) -> None:
        antwort = await self.client.room_redact(raum_id, event_id)
        assert isinstance(antwort, RoomRedactResponse), antwort

    async def benachrichtigungen(self) -> list[Ereignis]:
        """Was der Homeserver dieser Person gemeldet hat (`GET /notifications`), neueste zuerst.

        Synapse wertet ihre Pushregeln beim Senden aus; was hier fehlt, hat auch ihr Telefon
        nicht erreicht.
        """
        antwort = await self.client.send(
            "GET",
            "/_matrix/client/v3/notifications?limit=100",
            headers={"Authorization": f"Bearer {self.client.access_token}"},
        )
        assert antwort.status == 200, await antwort.text()
        daten = await antwort.json()
        return list(daten["notifications"])

    async def synchronisiere(self, timeout_ms: int = 500) -> None:
        antwort = await self.client.sync(
            timeout=timeout_ms, since=self._position, sync_filter=_ALLES_SEHEN
        )
        assert isinstance(antwort, SyncResponse), antwort
        self._position = antwort.next_batch
        await pflege_schluessel(self.client)
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
