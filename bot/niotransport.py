"""`bot.transport.Transport` über matrix-nio: Senden (in verschlüsselten Räumen alles
verschlüsselt, Raumschlüssel nur für vertraute Geräte), Hochladen, Direkträume, Mitgliedschaft."""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
from collections.abc import Collection
from typing import Any

from aiohttp import ClientError
from nio import (
    Api,
    AsyncClient,
    JoinedRoomsResponse,
    KeysQueryResponse,
    LocalProtocolError,
    MessageDirection,
    RoomCreateResponse,
    RoomGetStateEventResponse,
    RoomLeaveResponse,
    RoomMessagesResponse,
    RoomPreset,
    RoomSendResponse,
    ShareGroupSessionResponse,
    UploadResponse,
)

from bot.client import schluessel_abfragen
from bot.transport import (
    EndgueltigerFehler,
    Mitgliedschaft,
    NichtImRaum,
    Ratenlimit,
    Sendefehler,
    UnbekannterFehler,
    VoruebergehenderFehler,
)
from bot.vertrauen import Schluesselvertrauen

log = logging.getLogger(__name__)

VERSCHLUESSELUNG = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}
# Zustandsereignis in Direkträumen, die der Bot anlegt: `{"kennung": …, "person": …}` (siehe
# `bot.zusteller`: so findet er einen Raum wieder, dessen ID er sich nicht mehr merken konnte).
DIREKTRAUM_KENNUNG = "de.klimabot.direktraum"
# Im Inhalt jedes gesendeten Ereignisses: die txn_id seines Eintrags im Ausgangskorb.
AUSGANGSKENNUNG = "de.klimabot.ausgang"


def ausgangskennung(quelle: object) -> tuple[str, str] | None:
    """(Kennung, Event-ID) eines rohen Ereignisses, das der Bot mit `AUSGANGSKENNUNG` sendete;
    sonst None."""
    if not isinstance(quelle, dict):
        return None
    inhalt = quelle.get("content")
    kennung = inhalt.get(AUSGANGSKENNUNG) if isinstance(inhalt, dict) else None
    event_id = quelle.get("event_id")
    if isinstance(kennung, str) and isinstance(event_id, str):
        return kennung, event_id
    return None


# So viele der letzten Ereignisse des Bots sieht der Abgleich nach einer Übernahme an.
ABGLEICH_HOECHSTENS = 100
# Fehlercodes, bei denen ein erneuter Versuch nie hilft.
_NIE_ZU_SENDEN = frozenset({"M_BAD_JSON", "M_NOT_JSON", "M_TOO_LARGE"})
# Das Konto als Ganzes ist betroffen, nicht ein Raum: warten, bis es wieder geht.
_KONTO_WEG = frozenset({"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"})
# Gateway ohne Homeserver dahinter (Reverse-Proxy während eines Neustarts).
_SERVER_WEG = frozenset({502, 503, 504})


class NioTransport:
    """`bot.transport.Transport` über matrix-nio.

    Hier allein wird entschieden, was verschlüsselt hinausgeht und an wen: in verschlüsselten
    Räumen jedes Ereignis – auch Reaktionen, die nios `room_send` im Klartext schickte – und
    jede hochgeladene Datei; die Raumschlüssel bekommen nur die Geräte, die `vertrauen` nennt
    (`bot/vertrauen.py`). Ohne `vertrauen` – nur für die Menschen in Demo und Tests – alle
    Geräte aller Mitglieder, wie Element es tut.
    """

    def __init__(self, client: AsyncClient, vertrauen: Schluesselvertrauen | None = None) -> None:
        self._client = client
        self._vertrauen = vertrauen
        # Frisch angelegte Direkträume → eingeladene Person. Bis ihre Einladung im Sync
        # steht, ginge der Raumschlüssel an niemanden: so lange wird nicht gesendet.
        self._eingeladen: dict[str, str] = {}
        # Je Raum höchstens ein Teilen zugleich (Antworten und Hinweise können sich kreuzen).
        self._teilen: dict[str, asyncio.Lock] = {}

    async def sende(
        self, raum_id: str, ereignistyp: str, inhalt: dict[str, Any], txn_id: str
    ) -> str:
        client = self._client
        # Die Kennung des Eintrags im Ausgangskorb steht im Ereignis (verschlüsselt auch außen,
        # sie ist zufällig): so erkennt eine übernehmende Instanz, was die vorige schon sandte
        # (`schon_gesendet`). Die txn_id allein hilft ihr nicht: der Homeserver erkennt eine
        # Transaktion nur beim selben Gerät wieder.
        inhalt = {**inhalt, AUSGANGSKENNUNG: txn_id}
        try:
            if self._verschluesselt(raum_id):
                await self._raumschluessel_teilen(raum_id)
                ereignistyp, inhalt = client.encrypt(raum_id, ereignistyp, inhalt)
                inhalt = {**inhalt, AUSGANGSKENNUNG: txn_id}
            methode, pfad, daten = Api.room_send(
                client.access_token, raum_id, ereignistyp, inhalt, txn_id
            )
            antwort = await client._send(RoomSendResponse, methode, pfad, daten, (raum_id,))
        except (ClientError, TimeoutError) as fehler:
            raise VoruebergehenderFehler(f"{type(fehler).__name__}: {fehler}") from fehler
        except LocalProtocolError as fehler:
            # nio weiß nicht weiter (etwa: Mitglieder des Raums nicht abrufbar): begrenzt.
            raise UnbekannterFehler(f"{type(fehler).__name__}: {fehler}") from fehler
        if isinstance(antwort, RoomSendResponse):
            return str(antwort.event_id)
        raise self._fehler(antwort)

    async def schon_gesendet(self, raum_id: str, txn_ids: Collection[str]) -> dict[str, str]:
        """Welche dieser Transaktionen schon als Ereignis des Bots im Raum stehen (txn_id →
        Event-ID); gesucht wird in den letzten `ABGLEICH_HOECHSTENS` Ereignissen des Bots."""
        gesucht = set(txn_ids)
        gefunden: dict[str, str] = {}
        filter_ = {"senders": [self._client.user_id], "lazy_load_members": True}
        antwort = await self._client.room_messages(
            raum_id,
            start=None,  # vom Ende des Raums zurück
            direction=MessageDirection.back,
            limit=ABGLEICH_HOECHSTENS,
            message_filter=filter_,
        )
        if not isinstance(antwort, RoomMessagesResponse):
            raise VoruebergehenderFehler(f"Verlauf nicht lesbar: {antwort.message}")
        for ereignis in antwort.chunk:
            gekennzeichnet = ausgangskennung(getattr(ereignis, "source", {}))
            if gekennzeichnet is not None and gekennzeichnet[0] in gesucht:
                gefunden[gekennzeichnet[0]] = gekennzeichnet[1]
        return gefunden

    def _verschluesselt(self, raum_id: str) -> bool:
        if self._client.olm is None:
            return False
        raum = self._client.rooms.get(raum_id)
        if raum is None:
            if not self._client.next_batch:
                # Vor dem ersten Sync nach dem Start kennt nio noch gar keinen Raum.
                raise VoruebergehenderFehler(f"Raum {raum_id}: noch kein Sync seit dem Start")
            raise NichtImRaum(f"Raum {raum_id}: der Bot ist nicht darin")
        gast = self._eingeladen.get(raum_id)
        if gast is not None and gast not in raum.users:
            # Ein eben angelegter Direktraum: erst der nächste Sync bringt seine Mitglieder.
            raise VoruebergehenderFehler(f"Raum {raum_id} ist noch nicht synchronisiert")
        self._eingeladen.pop(raum_id, None)
        return bool(raum.encrypted) or raum_id in self._client.encrypted_rooms

    async def _raumschluessel_teilen(self, raum_id: str) -> None:
        """Sorgt dafür, dass genau die vertrauten Geräte den Raumschlüssel des Bots haben."""
        client = self._client
        assert client.olm is not None
        if not client.rooms[raum_id].members_synced:
            await client.joined_members(raum_id)
        if client.should_query_keys:
            await schluessel_abfragen(client, self._vertrauen)
        if self._vertrauen is None:
            if not client.olm.should_share_group_session(raum_id):
                return
            laufend = client.sharing_session.get(raum_id)
            if laufend is not None:
                await laufend.wait()
                return
            await client.share_group_session(raum_id, ignore_unverified_devices=True)
            return
        sperre = self._teilen.setdefault(raum_id, asyncio.Lock())
        async with sperre:
            await self._teile_mit_vertrauten(raum_id, self._vertrauen)

    async def _vertraute_geraete(
        self, raum_id: str, vertrauen: Schluesselvertrauen
    ) -> tuple[list[str], dict[tuple[str, str], Any]]:
        """Die Mitglieder des Raums, denen der Bot vertraut, und ihre vertrauten Geräte."""
        client = self._client
        vertraute = await vertrauen.personen()
        personen = sorted(
            p for p in client.rooms[raum_id].users if p in vertraute and p != client.user_id
        )
        if vertrauen.nur_gegengezeichnet:
            unbekannt = [p for p in personen if vertrauen.bestaetigte_geraete(p) is None]
            if unbekannt:
                antwort = await client.keys_query(unbekannt)
                if isinstance(antwort, KeysQueryResponse):
                    await vertrauen.kreuzsignaturen_gelesen(getattr(antwort, "roh", {}), unbekannt)
        geraete: dict[tuple[str, str], Any] = {}
        for person in personen:
            bestaetigt = vertrauen.bestaetigte_geraete(person)
            for geraet in client.device_store.active_user_devices(person):
                if vertrauen.nur_gegengezeichnet and geraet.id not in (bestaetigt or ()):
                    continue
                geraete[(person, geraet.id)] = geraet
        return personen, geraete

    async def _teile_mit_vertrauten(self, raum_id: str, vertrauen: Schluesselvertrauen) -> None:
        client = self._client
        olm = client.olm
        assert olm is not None
        personen, geraete = await self._vertraute_geraete(raum_id, vertrauen)
        fehlend: dict[str, list[str]] = {}
        for (person, geraet_id), geraet in geraete.items():
            if olm.session_store.get(geraet.curve25519) is None:
                fehlend.setdefault(person, []).append(geraet_id)
        if fehlend:
            await client.keys_claim(fehlend)
        # Wer keine Olm-Sitzung hat (keine Einmalschlüssel), ist gerade nicht erreichbar.
        ziel = {
            schluessel
            for schluessel, geraet in geraete.items()
            if olm.session_store.get(geraet.curve25519) is not None
        }
        sitzung = olm.outbound_group_sessions.get(raum_id)
        if sitzung is not None and sitzung.shared and not sitzung.expired:
            zu_viel = sitzung.users_shared_with - ziel
            neu = ziel - sitzung.users_shared_with
            if not zu_viel and not neu:
                return
            if zu_viel:
                log.info(
                    "Raumschlüssel in %s erneuert: %s bekommen ihn nicht mehr",
                    raum_id,
                    ", ".join(f"{p}/{g}" for p, g in sorted(zu_viel)),
                )
        # Eine neue Sitzung: so hat sie genau die vertrauten Geräte, nicht mehr, nicht weniger.
        olm.create_outbound_group_session(raum_id)
        sitzung = olm.outbound_group_sessions[raum_id]
        # Geräte vertrauter Personen, die nicht bestätigt sind: für diese Sitzung übergangen.
        sitzung.users_ignored.update(
            (p, g.id)
            for p in personen
            for g in client.device_store.active_user_devices(p)
            if (p, g.id) not in ziel
        )
        anfragen = []
        for mit, nachrichten in olm.share_group_session_parallel(
            raum_id, personen, ignore_unverified_devices=True
        ):
            methode, pfad, daten = Api.to_device(
                client.access_token, "m.room.encrypted", nachrichten, uuid.uuid4()
            )
            anfragen.append(
                client._send(
                    ShareGroupSessionResponse, methode, pfad, daten, response_data=(raum_id, mit)
                )
            )
        for antwort in await asyncio.gather(*anfragen):
            if not isinstance(antwort, ShareGroupSessionResponse):
                log.warning("Raumschlüssel für %s nicht überall zugestellt: %s", raum_id, antwort)
        # Auch ohne Empfänger gilt die Sitzung als geteilt (sonst ginge nichts hinaus);
        # wer fehlt, bekommt beim nächsten Senden eine neue.
        sitzung.shared = True

    async def lade_hoch(
        self, raum_id: str, daten: bytes, mimetype: str, dateiname: str
    ) -> dict[str, Any]:
        verschluesselt = self._verschluesselt(raum_id)
        try:
            antwort, schluessel = await self._client.upload(
                io.BytesIO(daten),
                content_type=mimetype,
                filename=dateiname,
                filesize=len(daten),
                encrypt=verschluesselt,
            )
        except (ClientError, TimeoutError) as fehler:
            raise VoruebergehenderFehler(f"Hochladen: {fehler}") from fehler
        if not isinstance(antwort, UploadResponse):
            raise self._fehler(antwort)
        if verschluesselt:
            return {"file": {"url": str(antwort.content_uri), "mimetype": mimetype, **schluessel}}
        return {"url": str(antwort.content_uri)}

    async def erstelle_direktraum(self, matrix_id: str, kennung: str) -> str:
        zustand: list[dict[str, Any]] = [
            {
                "type": DIREKTRAUM_KENNUNG,
                "state_key": "",
                "content": {"kennung": kennung, "person": matrix_id},
            }
        ]
        if self._client.olm is not None:
            zustand.append(VERSCHLUESSELUNG)
        try:
            antwort = await self._client.room_create(
                is_direct=True,
                invite=[matrix_id],
                name="Klimabot",
                preset=RoomPreset.trusted_private_chat,
                initial_state=zustand,
            )
        except (ClientError, TimeoutError) as fehler:
            raise VoruebergehenderFehler(f"Direktraum: {fehler}") from fehler
        if isinstance(antwort, RoomCreateResponse):
            if self._client.olm is not None:
                # Schon vor dem ersten Sync des Raums als verschlüsselt bekannt: nie Klartext.
                self._client.encrypted_rooms.add(antwort.room_id)
                self._eingeladen[antwort.room_id] = matrix_id
            return str(antwort.room_id)
        raise self._fehler(antwort)

    async def finde_direktraum(self, kennung: str) -> str | None:
        try:
            raeume = await self._client.joined_rooms()
            if not isinstance(raeume, JoinedRoomsResponse):
                raise self._fehler(raeume)
            for raum_id in raeume.rooms:
                zustand = await self._client.room_get_state_event(raum_id, DIREKTRAUM_KENNUNG)
                if not isinstance(zustand, RoomGetStateEventResponse):
                    if getattr(zustand, "status_code", None) in ("M_NOT_FOUND", "M_FORBIDDEN"):
                        continue  # kein Direktraum des Bots
                    # Sonst wüsste der Bot nicht, ob es ihn gibt: lieber später erneut suchen.
                    raise self._fehler(zustand)
                if zustand.content.get("kennung") == kennung:
                    person = zustand.content.get("person")
                    if self._client.olm is not None and isinstance(person, str):
                        # Wie frisch angelegt: gesendet wird erst, wenn der Sync die Person
                        # im Raum zeigt, sonst bekäme sie den Raumschlüssel nicht.
                        self._eingeladen[raum_id] = person
                    return str(raum_id)
        except (ClientError, TimeoutError) as fehler:
            raise VoruebergehenderFehler(f"Direktraum suchen: {fehler}") from fehler
        return None

    async def mitgliedschaft(self, raum_id: str, matrix_id: str) -> Mitgliedschaft | None:
        try:
            antwort = await self._client.room_get_state_event(raum_id, "m.room.member", matrix_id)
        except (ClientError, TimeoutError) as fehler:
            raise VoruebergehenderFehler(f"Mitgliedschaft: {fehler}") from fehler
        if isinstance(antwort, RoomGetStateEventResponse):
            wert = antwort.content.get("membership")
            if wert in ("join", "invite", "leave", "ban", "knock"):
                return wert  # type: ignore[no-any-return]
            return None
        if getattr(antwort, "status_code", None) == "M_NOT_FOUND":
            return None  # war nie Mitglied
        raise self._fehler(antwort)

    async def verlasse(self, raum_id: str) -> None:
        try:
            antwort = await self._client.room_leave(raum_id)
        except (ClientError, TimeoutError) as fehler:
            raise VoruebergehenderFehler(f"Raum verlassen: {fehler}") from fehler
        if not isinstance(antwort, RoomLeaveResponse):
            raise self._fehler(antwort)

    @staticmethod
    def _fehler(antwort: Any) -> Sendefehler:
        """Die Art eines Fehlers des Homeservers (siehe `bot.transport`)."""
        code = getattr(antwort, "status_code", None)
        http = getattr(getattr(antwort, "transport_response", None), "status", None)
        text = f"{code}: {getattr(antwort, 'message', antwort)}"
        if code == "M_LIMIT_EXCEEDED" or http == 429:
            return Ratenlimit(int(getattr(antwort, "retry_after_ms", None) or 1000))
        if code in ("M_FORBIDDEN", "M_NOT_FOUND"):
            return NichtImRaum(text)
        if code in _NIE_ZU_SENDEN:
            return EndgueltigerFehler(text)
        if code in _KONTO_WEG or http is None or http in _SERVER_WEG:
            return VoruebergehenderFehler(text)
        return UnbekannterFehler(text)
