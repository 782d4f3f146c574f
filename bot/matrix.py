"""Die Verbindung zum Homeserver mit matrix-nio: Anmeldung, Sync-Schleife, Einladungen, Senden.

Die Sync-Schleife ist selbst geschrieben statt `sync_forever` mit Callbacks: so sieht der
Bot Einladungen schon im ersten Sync, holt nach einem Ausfall abgeschnittene Verläufe
nach und speichert die Sync-Position erst, wenn alle Ereignisse eines Stapels behandelt
sind. nio wartet nie selbst auf Ratenlimits oder Netzfehler (sonst stünde die Schleife
still); das übernehmen die Schleife und der Ausgangskorb.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientError
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinError,
    LoginResponse,
    MessageDirection,
    RoomCreateResponse,
    RoomMessagesError,
    RoomPreset,
    RoomResolveAliasResponse,
    RoomSendResponse,
    SyncError,
    SyncResponse,
    UploadFilterResponse,
    UploadResponse,
    WhoamiResponse,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import MatrixEinstellungen
from bot.transport import EndgueltigerFehler, Ratenlimit, VoruebergehenderFehler
from bot.verarbeitung import DatenbankNichtErreichbar, Ereignis, Verarbeitung
from modelle.datenbank import Sitzungsfabrik
from modelle.tabellen import Raum, VerarbeitetesEreignis, Zustand

log = logging.getLogger(__name__)

# Was der Bot vom Sync braucht: Nachrichten, Reaktionen, Löschungen, Mitgliedschaft.
# Keine Präsenz, keine Tipp-/Lesebestätigungen, Mitglieder nur bei Bedarf (lazy loading).
SYNC_FILTER: dict[str, Any] = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {
        "state": {"lazy_load_members": True},
        "timeline": {
            "lazy_load_members": True,
            "limit": 100,
            "types": ["m.room.message", "m.reaction", "m.room.redaction", "m.room.member"],
        },
        "ephemeral": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
    },
}
# Erster Start überhaupt: alte Verläufe nicht beantworten, nur Einladungen sehen.
ERSTER_SYNC_FILTER: dict[str, Any] = {
    **SYNC_FILTER,
    "room": {**SYNC_FILTER["room"], "timeline": {"limit": 0}},
}
NACHHOLEN_HOECHSTENS = 50  # Seiten à 100 Ereignisse je Raum nach einem Ausfall

ZUGANGSTOKEN = "matrix.zugangstoken"
GERAET = "matrix.geraet"
BENUTZER = "matrix.benutzer"
SYNC_POSITION = "matrix.sync_position"


class AnmeldungFehlgeschlagen(Exception):
    """Die Anmeldung ist unmöglich (falsches Passwort, Token eines anderen Kontos)."""


async def lies_zustand(sitzung: AsyncSession, schluessel: str) -> str | None:
    return await sitzung.scalar(select(Zustand.wert).where(Zustand.schluessel == schluessel))


async def setze_zustand(sitzung: AsyncSession, schluessel: str, wert: str) -> None:
    zeile = await sitzung.get(Zustand, schluessel)
    if zeile is None:
        sitzung.add(Zustand(schluessel=schluessel, wert=wert))
    else:
        zeile.wert = wert


def neuer_client(einstellungen: MatrixEinstellungen) -> AsyncClient:
    konfiguration = AsyncClientConfig(
        max_limit_exceeded=0, max_timeouts=0, encryption_enabled=False, request_timeout=90
    )
    return AsyncClient(einstellungen.homeserver, einstellungen.benutzer, config=konfiguration)


async def anmelden(
    client: AsyncClient, einstellungen: MatrixEinstellungen, sitzungen: Sitzungsfabrik
) -> None:
    """Meldet den Bot an und behält sein Gerät über Neustarts (nie ein neues Gerät je Start)."""
    if einstellungen.zugangstoken is not None:
        client.access_token = einstellungen.zugangstoken.get_secret_value()
        await _pruefe_wer(client, einstellungen.benutzer)
        log.info("Angemeldet mit konfiguriertem Zugangstoken, Gerät %s", client.device_id)
        return
    async with sitzungen() as sitzung:
        token = await lies_zustand(sitzung, ZUGANGSTOKEN)
        geraet = await lies_zustand(sitzung, GERAET)
        benutzer = await lies_zustand(sitzung, BENUTZER)
    if token and geraet and benutzer == einstellungen.benutzer:
        client.user_id, client.device_id, client.access_token = benutzer, geraet, token
        antwort = await client.whoami()
        if isinstance(antwort, WhoamiResponse):
            await _pruefe_wer(client, einstellungen.benutzer, antwort)
            log.info("Gespeicherte Anmeldung wiederverwendet, Gerät %s", geraet)
            return
        log.warning("Gespeichertes Zugangstoken ungültig (%s); neue Anmeldung", antwort.message)
    if einstellungen.passwort is None:
        raise AnmeldungFehlgeschlagen(
            "Kein gültiges Zugangstoken gespeichert und kein Passwort konfiguriert."
        )
    # Mit bekanntem Gerät anmelden, damit es dasselbe Gerät bleibt.
    client.device_id = geraet if benutzer == einstellungen.benutzer else None
    anmeldung = await client.login(
        einstellungen.passwort.get_secret_value(), device_name=einstellungen.geraetename
    )
    if not isinstance(anmeldung, LoginResponse):
        raise AnmeldungFehlgeschlagen(
            f"Anmeldung als {einstellungen.benutzer} fehlgeschlagen: {anmeldung.message}"
        )
    await _pruefe_wer(client, einstellungen.benutzer)
    async with sitzungen.begin() as sitzung:
        await setze_zustand(sitzung, ZUGANGSTOKEN, anmeldung.access_token)
        await setze_zustand(sitzung, GERAET, anmeldung.device_id)
        await setze_zustand(sitzung, BENUTZER, anmeldung.user_id)
    log.info("Mit Passwort angemeldet, Gerät %s", anmeldung.device_id)


async def _pruefe_wer(
    client: AsyncClient, erwartet: str, antwort: WhoamiResponse | None = None
) -> None:
    if antwort is None:
        ergebnis = await client.whoami()
        if not isinstance(ergebnis, WhoamiResponse):
            raise AnmeldungFehlgeschlagen(f"Zugangstoken wird nicht angenommen: {ergebnis.message}")
        antwort = ergebnis
    if antwort.user_id != erwartet:
        raise AnmeldungFehlgeschlagen(
            f"Das Zugangstoken gehört zu {antwort.user_id}, konfiguriert ist {erwartet}."
        )
    client.user_id = antwort.user_id
    client.device_id = antwort.device_id or client.device_id


class NioTransport:
    """`bot.transport.Transport` über matrix-nio."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def sende(
        self, raum_id: str, ereignistyp: str, inhalt: dict[str, Any], txn_id: str
    ) -> str:
        try:
            antwort = await self._client.room_send(
                raum_id, ereignistyp, inhalt, tx_id=txn_id, ignore_unverified_devices=True
            )
        except (ClientError, TimeoutError) as fehler:
            raise VoruebergehenderFehler(f"{type(fehler).__name__}: {fehler}") from fehler
        if isinstance(antwort, RoomSendResponse):
            return str(antwort.event_id)
        raise self._fehler(antwort)

    async def lade_hoch(self, daten: bytes, mimetype: str, dateiname: str) -> str:
        try:
            antwort, _ = await self._client.upload(
                io.BytesIO(daten), content_type=mimetype, filename=dateiname, filesize=len(daten)
            )
        except (ClientError, TimeoutError) as fehler:
            raise VoruebergehenderFehler(f"Hochladen: {fehler}") from fehler
        if isinstance(antwort, UploadResponse):
            return str(antwort.content_uri)
        raise self._fehler(antwort)

    async def erstelle_direktraum(self, matrix_id: str) -> str:
        try:
            antwort = await self._client.room_create(
                is_direct=True,
                invite=[matrix_id],
                name="Klimabot",
                preset=RoomPreset.trusted_private_chat,
            )
        except (ClientError, TimeoutError) as fehler:
            raise VoruebergehenderFehler(f"Direktraum: {fehler}") from fehler
        if isinstance(antwort, RoomCreateResponse):
            return str(antwort.room_id)
        raise self._fehler(antwort)

    @staticmethod
    def _fehler(antwort: Any) -> Exception:
        code = getattr(antwort, "status_code", None)
        if code == "M_LIMIT_EXCEEDED":
            return Ratenlimit(int(getattr(antwort, "retry_after_ms", None) or 1000))
        if code in ("M_FORBIDDEN", "M_NOT_FOUND", "M_UNKNOWN", "M_BAD_JSON", "M_TOO_LARGE"):
            return EndgueltigerFehler(f"{code}: {antwort.message}")
        return VoruebergehenderFehler(f"{code}: {getattr(antwort, 'message', antwort)}")


class Syncschleife:
    """Holt Ereignisse vom Homeserver und gibt jedes genau einmal an die Verarbeitung."""

    def __init__(
        self,
        client: AsyncClient,
        einstellungen: MatrixEinstellungen,
        sitzungen: Sitzungsfabrik,
        verarbeitung: Verarbeitung,
        *,
        nach_stapel: Callable[[], Awaitable[None]] | None = None,
        laengste_pause: float = 30.0,
    ) -> None:
        self._client = client
        self._einstellungen = einstellungen
        self._sitzungen = sitzungen
        self._verarbeitung = verarbeitung
        self._nach_stapel = nach_stapel
        self._laengste_pause = laengste_pause
        self.bereit = asyncio.Event()
        self._halt = asyncio.Event()

    def anhalten(self) -> None:
        """Beendet die Schleife nach dem gerade behandelten Ereignis."""
        self._halt.set()

    async def laufen(self) -> None:
        filter_id = await self._filter(SYNC_FILTER)
        async with self._sitzungen() as sitzung:
            position = await lies_zustand(sitzung, SYNC_POSITION)
        pause = 1.0
        while not self._halt.is_set():
            erster = position is None
            try:
                antwort = await self._warte_auf(
                    self._client.sync(
                        # Der erste Sync nach dem Start holt sofort nach, erst danach Long-Poll.
                        timeout=30_000 if self.bereit.is_set() else 0,
                        since=position,
                        sync_filter=await self._filter(ERSTER_SYNC_FILTER) if erster else filter_id,
                    )
                )
                if antwort is None:
                    break
                if isinstance(antwort, SyncError):
                    raise VoruebergehenderFehler(f"{antwort.status_code}: {antwort.message}")
                fertig = await self._stapel(antwort, nachholen=not erster)
                if not fertig:
                    break
                position = antwort.next_batch
                async with self._sitzungen.begin() as sitzung:
                    await setze_zustand(sitzung, SYNC_POSITION, position)
                if self._nach_stapel is not None:
                    await self._nach_stapel()
                pause = 1.0
                self.bereit.set()
            except (
                ClientError,
                TimeoutError,
                VoruebergehenderFehler,
                DatenbankNichtErreichbar,
            ) as fehler:
                log.warning("Sync unterbrochen (%s); neuer Versuch in %.0f s", fehler, pause)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._halt.wait(), timeout=pause)
                pause = min(pause * 2, self._laengste_pause)

    async def _warte_auf(self, anfrage: Awaitable[Any]) -> Any:
        """Wartet auf eine Anfrage, außer der Bot soll anhalten (dann `None`)."""
        aufgabe = asyncio.ensure_future(anfrage)
        halt = asyncio.ensure_future(self._halt.wait())
        try:
            await asyncio.wait({aufgabe, halt}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            halt.cancel()
        if not aufgabe.done():
            aufgabe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await aufgabe
            return None
        return aufgabe.result()

    async def _filter(self, definition: dict[str, Any]) -> str:
        antwort = await self._client.upload_filter(
            presence=definition.get("presence"),
            account_data=definition.get("account_data"),
            room=definition.get("room"),
        )
        if not isinstance(antwort, UploadFilterResponse):
            raise VoruebergehenderFehler(f"Filter nicht angenommen: {antwort.message}")
        return str(antwort.filter_id)

    async def _stapel(self, antwort: SyncResponse, *, nachholen: bool) -> bool:
        """Behandelt einen Sync-Stapel; `False`, wenn mittendrin angehalten wurde."""
        for raum_id, einladung in antwort.rooms.invite.items():
            await self._einladung(raum_id, einladung.invite_state)
        for raum_id, raum in antwort.rooms.join.items():
            ereignisse = [e.source for e in raum.timeline.events]
            beitritt = self._eigener_beitritt(ereignisse)
            if beitritt is not None:
                # Frisch beigetreten: was vorher im Raum geschah, ist Vorgeschichte.
                ereignisse = ereignisse[beitritt + 1 :]
            elif nachholen and raum.timeline.limited and raum.timeline.prev_batch:
                ereignisse = await self._nachgeholt(raum_id, raum.timeline.prev_batch) + ereignisse
            for roh in ereignisse:
                if self._halt.is_set():
                    return False
                ereignis = Ereignis.aus_json(raum_id, roh)
                if ereignis is not None:
                    await self._verarbeitung.verarbeite(ereignis)
        return True

    def _eigener_beitritt(self, ereignisse: list[dict[str, Any]]) -> int | None:
        for stelle in range(len(ereignisse) - 1, -1, -1):
            ereignis = ereignisse[stelle]
            inhalt = ereignis.get("content")
            if (
                ereignis.get("type") == "m.room.member"
                and ereignis.get("state_key") == self._client.user_id
                and isinstance(inhalt, dict)
                and inhalt.get("membership") == "join"
            ):
                return stelle
        return None

    async def _nachgeholt(self, raum_id: str, bis: str) -> list[dict[str, Any]]:
        """Der Teil des Verlaufs, den ein abgeschnittener Sync ausließ (älteste zuerst)."""
        gesammelt: list[dict[str, Any]] = []
        start: str | None = bis
        for _ in range(NACHHOLEN_HOECHSTENS):
            seite = await self._client.room_messages(
                raum_id, start=start, direction=MessageDirection.back, limit=100
            )
            if isinstance(seite, RoomMessagesError):
                log.warning("Verlauf von %s nicht nachholbar: %s", raum_id, seite.message)
                break
            roh = [e.source for e in seite.chunk]
            bekannt = await self._bekannte(roh)
            for ereignis in roh:
                if ereignis.get("event_id") in bekannt or self._eigener_beitritt([ereignis]) == 0:
                    return list(reversed(gesammelt))
                gesammelt.append(ereignis)
            if not seite.chunk or not seite.end or seite.end == start:
                break
            start = seite.end
        else:
            log.warning("Verlauf von %s nur teilweise nachgeholt", raum_id)
        return list(reversed(gesammelt))

    async def _bekannte(self, ereignisse: list[dict[str, Any]]) -> set[str]:
        ids = [e["event_id"] for e in ereignisse if isinstance(e.get("event_id"), str)]
        if not ids:
            return set()
        async with self._sitzungen() as sitzung:
            treffer = await sitzung.scalars(
                select(VerarbeitetesEreignis.event_id).where(
                    VerarbeitetesEreignis.event_id.in_(ids)
                )
            )
            return set(treffer)

    async def _einladung(self, raum_id: str, zustand: list[Any]) -> None:
        einladende = next(
            (
                e.sender
                for e in zustand
                if getattr(e, "state_key", None) == self._client.user_id
                and getattr(e, "membership", None) == "invite"
            ),
            None,
        )
        if einladende is not None and self._einstellungen.darf_einladen(einladende):
            ergebnis = await self._client.join(raum_id)
            if isinstance(ergebnis, JoinError):
                log.warning("Beitritt zu %s gescheitert: %s", raum_id, ergebnis.message)
            else:
                log.info("Einladung von %s in %s angenommen", einladende, raum_id)
        else:
            await self._client.room_leave(raum_id)
            log.info("Einladung von %s in %s abgelehnt (nicht erlaubt)", einladende, raum_id)


async def loese_raeume_auf(client: AsyncClient, sitzungen: Sitzungsfabrik) -> None:
    """Ermittelt die Raum-IDs der konfigurierten Raumaliase und tritt bekannten Räumen bei."""
    async with sitzungen.begin() as sitzung:
        for raum in (await sitzung.scalars(select(Raum))).all():
            if raum.adresse.startswith("!"):
                raum.raum_id = raum.adresse
            else:
                aufgeloest = await client.room_resolve_alias(raum.adresse)
                if not isinstance(aufgeloest, RoomResolveAliasResponse):
                    log.warning("Raumalias %s unbekannt: %s", raum.adresse, aufgeloest.message)
                    continue
                raum.raum_id = aufgeloest.room_id
            if raum.raum_id not in client.rooms:
                beitritt = await client.join(raum.raum_id)
                if isinstance(beitritt, JoinError):
                    log.info(
                        "Noch nicht in %s (%s): wartet auf Einladung",
                        raum.adresse,
                        beitritt.message,
                    )
