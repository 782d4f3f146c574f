"""Die Sync-Schleife: liest Ereignisse vom Homeserver und reicht jedes genau einmal weiter.

Selbst geschrieben statt `sync_forever` mit Callbacks: so sieht der Bot Einladungen schon im
ersten Sync, holt nach einem Ausfall abgeschnittene Verläufe nach, entschlüsselt wartende
Nachrichten, sobald ihr Schlüssel kommt, und speichert die Sync-Position erst, wenn alle
Ereignisse eines Stapels behandelt sind. nio wartet nie selbst auf Ratenlimits oder Netzfehler
(sonst stünde die Schleife still); das übernehmen die Schleife und der Ausgangskorb. Neues holt
sie erst, wenn die Antworten des letzten Stapels hinaus sind (`Zusteller.abgesendet`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientError
from nio import (
    AsyncClient,
    EncryptionError,
    Event,
    LocalProtocolError,
    MegolmEvent,
    MessageDirection,
    RoomMessagesError,
    SyncError,
    SyncResponse,
    UploadFilterResponse,
)
from sqlalchemy import select

from bot.anmeldung import SCHLUESSEL_GERAET, SYNC_POSITION, instanzschluessel
from bot.client import VerworfenesEreignis, pflege_schluessel
from bot.config import MatrixEinstellungen
from bot.ereignis import Ereignis
from bot.metriken import Metriken
from bot.niotransport import ausgangskennung
from bot.raeume import Raumverwaltung
from bot.transport import VoruebergehenderFehler
from bot.verarbeitung import DatenbankNichtErreichbar, Verarbeitung
from bot.vertrauen import Schluesselvertrauen
from modelle.datenbank import Sitzungsfabrik, nicht_erreichbar
from modelle.tabellen import VerarbeitetesEreignis
from modelle.zustand import lies_zustand, setze_zustand, zustaende_mit_praefix

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
            "types": [
                "m.room.message",
                "m.room.encrypted",
                "m.reaction",
                "m.room.redaction",
                "m.room.member",
                # Wird ein Raum nachträglich verschlüsselt, muss der Bot es erfahren – sonst
                # schriebe er dort weiter Klartext.
                "m.room.encryption",
            ],
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
# Nicht entschlüsselbare Ereignisse, die auf ihren Schlüssel warten (die ältesten fallen raus).
WARTEND_HOECHSTENS = 500

VORUEBERGEHEND = (ClientError, TimeoutError, VoruebergehenderFehler, DatenbankNichtErreichbar)

# So oft höchstens schreibt die Sync-Schleife ihre Position (und beim Anhalten).
POSITION_SPEICHERN_S = 5.0
# So lange höchstens wartet sie nach einem Stapel auf dessen Antworten, bevor sie Neues holt.
# Das deckt im Schub einige Antworten ab und kostet eine Frage in einem anderen Raum,
# die gerade dann kommt, höchstens so viel.
ANTWORTEN_ABWARTEN_S = 0.25


class Syncschleife:
    """Holt Ereignisse vom Homeserver und gibt jedes genau einmal an die Verarbeitung.

    „Genau einmal“ sichert der Vermerk je Ereignis (`VerarbeitetesEreignis`), nicht die
    Sync-Position: die ist nur der Punkt, ab dem nach einem Neustart gelesen wird. Deshalb
    wird sie höchstens alle `POSITION_SPEICHERN_S` geschrieben statt nach jedem Stapel –
    jeder Befehl brachte sonst zwei Schreibtransaktionen mehr (sein Stapel und der mit der
    eigenen Antwort), genau während die Antwort unterwegs ist. Nach einem Absturz liest der
    Bot die paar Sekunden noch einmal und überspringt, was schon behandelt ist.
    """

    def __init__(
        self,
        client: AsyncClient,
        einstellungen: MatrixEinstellungen,
        sitzungen: Sitzungsfabrik,
        verarbeitung: Verarbeitung,
        *,
        raeume: Raumverwaltung,
        laengste_pause: float = 30.0,
        vertrauen: Schluesselvertrauen | None = None,
        instanz: str | None = None,
        metriken: Metriken | None = None,
        antworten_abwarten: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._client = client
        # `Zusteller.abgesendet`: erst die Antworten hinaus, dann Neues holen.
        self._antworten_abwarten = antworten_abwarten
        self._metriken = Metriken() if metriken is None else metriken
        # Position und Schlüsselstand gehören dem Gerät dieser Instanz (bot/anmeldung.py).
        self._position_schluessel = instanzschluessel(SYNC_POSITION, instanz)
        self._schluessel_geraet = instanzschluessel(SCHLUESSEL_GERAET, instanz)
        self._raeume = raeume
        self._vertrauen = vertrauen
        self._einstellungen = einstellungen
        self._sitzungen = sitzungen
        # Öffentlich: wer den laufenden Bot prüft, kann die Verarbeitung austauschen.
        self.verarbeitung = verarbeitung
        self._laengste_pause = laengste_pause
        self.bereit = asyncio.Event()
        self._halt = asyncio.Event()
        self._gespeichert: tuple[str | None, float] = (None, -POSITION_SPEICHERN_S)
        # Ereignis-ID → (Raum, Ereignis) für Nachrichten, deren Schlüssel noch fehlt.
        self._wartend: dict[str, tuple[str, MegolmEvent]] = {}

    def anhalten(self) -> None:
        """Beendet die Schleife nach dem gerade behandelten Ereignis."""
        self._halt.set()

    async def laufen(self) -> None:
        filter_id = await self._filter(SYNC_FILTER)
        async with self._sitzungen() as sitzung:
            position = await lies_zustand(sitzung, self._position_schluessel)
            # Ein Gerät ohne eigene Position auf einer Datenbank, auf der schon ein Bot lief
            # (eine neue Instanz, eine Bereitschaft, deren Anmeldung scheiterte): kein erster
            # Start, es holt nach bis zum zuletzt behandelten Ereignis. Gelaufen ist, wer ein
            # Ereignis vermerkt oder eine Position gespeichert hat – Letzteres tut jeder Bot
            # gleich nach seinem ersten Stapel, auch wenn er bis zum Absturz nur sofort
            # geantwortet und noch nichts vermerkt hatte.
            schon_gelaufen = position is None and (
                await sitzung.scalar(select(VerarbeitetesEreignis.event_id).limit(1)) is not None
                # Die eigene und die jeder Instanz (`instanzschluessel`): nur sie beginnen so.
                or bool(await zustaende_mit_praefix(sitzung, SYNC_POSITION))
            )
        self._gespeichert = (position, self._gespeichert[1])
        pause = 1.0
        while not self._halt.is_set():
            erster = position is None and not schon_gelaufen
            try:
                antwort = await self._warte_auf(
                    self._client.sync(
                        # Der erste Sync nach dem Start holt sofort nach, erst danach Long-Poll.
                        timeout=30_000 if self.bereit.is_set() else 0,
                        since=position,
                        sync_filter=await self._filter(ERSTER_SYNC_FILTER) if erster else filter_id,
                        # Nach dem Start kennt nio keine Räume (und nicht, welche verschlüsselt
                        # sind); der volle Zustand stellt sie her, ohne Ereignisse neu zu liefern.
                        full_state=not self.bereit.is_set(),
                    )
                )
                if antwort is None:
                    break
                if isinstance(antwort, SyncError):
                    raise VoruebergehenderFehler(f"{antwort.status_code}: {antwort.message}")
                await self._schluessel(antwort)
                fertig = await self._stapel(antwort, nachholen=not erster)
                if not fertig:
                    break
                position = antwort.next_batch
                if time.monotonic() - self._gespeichert[1] >= POSITION_SPEICHERN_S:
                    await self._speichere_position(position)
                await self._raeume_pflegen(antwort)
                if self._antworten_abwarten is not None:
                    await self._antworten_abwarten(ANTWORTEN_ABWARTEN_S)
                pause = 1.0
                self.bereit.set()
                self._metriken.sync_gelungen()
            except Exception as fehler:
                # Netz, Homeserver oder Datenbank (auch beim Speichern der Position) vorübergehend
                # weg: den Stapel wiederholen. Alles andere ist ein Programmfehler.
                if not (isinstance(fehler, VORUEBERGEHEND) or nicht_erreichbar(fehler)):
                    raise
                if nicht_erreichbar(fehler):
                    self._metriken.datenbank_nicht_erreichbar("sync")
                log.warning("Sync unterbrochen (%s); neuer Versuch in %.0f s", fehler, pause)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._halt.wait(), timeout=pause)
                pause = min(pause * 2, self._laengste_pause)
        if position is not None:
            try:
                await self._speichere_position(position)
            except Exception as fehler:
                if not nicht_erreichbar(fehler):
                    raise
                log.warning("Sync-Position beim Anhalten nicht gespeichert (%s)", fehler)

    async def _raeume_pflegen(self, antwort: SyncResponse) -> None:
        """Beitritte, Abgänge, Abgleich mit der Struktur; ein Fehler darin hält nichts an."""
        try:
            await self._raeume.nach_stapel(antwort)
        except Exception as fehler:
            if isinstance(fehler, VORUEBERGEHEND) or nicht_erreichbar(fehler):
                log.warning("Abgleich der Räume verschoben (%s)", fehler)
            else:
                log.exception("Abgleich der Räume gescheitert")

    async def _speichere_position(self, position: str) -> None:
        # Mit den Vermerken in einer Transaktion: Nach einem Absturz liest der Bot ab der
        # Position, und was davor liegt, muss dann als behandelt vermerkt sein.
        await self.verarbeitung.vermerke_gesendete(
            dazu=lambda sitzung: setze_zustand(sitzung, self._position_schluessel, position)
        )
        self._gespeichert = (position, time.monotonic())

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

    async def _schluessel(self, antwort: SyncResponse) -> None:
        """Schlüsselpflege nach dem Sync; danach Wartendes, dessen Schlüssel jetzt da ist."""
        if self._client.olm is None:
            return
        try:
            hochgeladen = await pflege_schluessel(self._client, self._vertrauen)
        except (ClientError, TimeoutError):
            raise  # Netz: der ganze Stapel wird wiederholt
        except Exception:
            # Ein Fehler in nios Schlüsselpflege darf das Lesen nicht anhalten; der nächste
            # Sync versucht es erneut.
            log.exception("Schlüsselpflege gescheitert")
            hochgeladen = False
        if hochgeladen:
            async with self._sitzungen.begin() as sitzung:
                await setze_zustand(sitzung, self._schluessel_geraet, self._client.device_id)
        if self._wartend and antwort.to_device_events:
            await self._entschluessele_wartende()

    async def _entschluessele_wartende(self) -> None:
        for event_id, (raum_id, verschluesselt) in list(self._wartend.items()):
            try:
                klar = self._client.decrypt_event(verschluesselt)
            except EncryptionError:
                continue
            except Exception:
                log.exception("Entschlüsseln von %s gescheitert; nicht erneut", event_id)
                del self._wartend[event_id]
                continue
            if isinstance(klar, MegolmEvent) or not hasattr(klar, "source"):
                continue
            del self._wartend[event_id]
            if isinstance(klar, VerworfenesEreignis):
                continue
            log.info("Ereignis %s in %s nachträglich entschlüsselt", event_id, raum_id)
            ereignis = Ereignis.aus_json(raum_id, klar.source)
            if ereignis is not None:
                await self.verarbeitung.verarbeite(ereignis)

    async def _unlesbar(self, raum_id: str, verschluesselt: MegolmEvent) -> None:
        """Ein Ereignis ohne Schlüssel: Schlüssel anfordern, Hinweis geben, später erneut."""
        self._metriken.nicht_entschluesselbar()
        log.warning(
            "Ereignis %s von %s in %s nicht entschlüsselbar (Sitzung %s)",
            verschluesselt.event_id,
            verschluesselt.sender,
            raum_id,
            verschluesselt.session_id,
        )
        if len(self._wartend) >= WARTEND_HOECHSTENS:
            del self._wartend[next(iter(self._wartend))]
        verschluesselt.room_id = raum_id
        self._wartend[verschluesselt.event_id] = (raum_id, verschluesselt)
        try:
            await self._client.request_room_key(verschluesselt)
        except LocalProtocolError:
            pass  # für diese Sitzung schon angefordert
        except Exception as fehler:
            log.warning("Schlüsselanforderung gescheitert: %s", fehler)
        ereignis = Ereignis.aus_json(raum_id, verschluesselt.source)
        if ereignis is not None:
            await self.verarbeitung.nicht_entschluesselbar(ereignis, verschluesselt.session_id)

    async def _stapel(self, antwort: SyncResponse, *, nachholen: bool) -> bool:
        """Behandelt einen Sync-Stapel; `False`, wenn mittendrin angehalten wurde.

        Die Vermerke sofort gesendeter Antworten schreibt die Verarbeitung gesammelt: vor der
        Position (`_speichere_position`), beim Anhalten und vor jedem Ereignis, das sie braucht.
        """
        for raum_id, einladung in antwort.rooms.invite.items():
            await self._raeume.einladung(raum_id, einladung.invite_state)
        # Im laufenden Sync ist jedes Ereignis neu; nach dem Start (die gespeicherte Position
        # liegt bis zu einigen Sekunden zurück) und im Nachgeholten sagt es erst der Vermerk.
        laufend = self.bereit.is_set()
        for raum_id, raum in antwort.rooms.join.items():
            ereignisse: list[Event] = list(raum.timeline.events)
            beitritt = self._eigener_beitritt(ereignisse)
            nachgeholt = False
            if beitritt is not None:
                # Frisch beigetreten: was vorher im Raum geschah, ist Vorgeschichte.
                ereignisse = ereignisse[beitritt + 1 :]
            elif nachholen and raum.timeline.limited and raum.timeline.prev_batch:
                frueher = await self._nachgeholt(raum_id, raum.timeline.prev_batch)
                ereignisse = frueher + ereignisse
                nachgeholt = bool(frueher)
            self.verarbeitung.schon_im_raum(self._eigene_kennungen(ereignisse))
            behandelt = (
                set()
                if laufend and not nachgeholt
                else await self._bekannte([e.source for e in ereignisse])
            )
            for roh in ereignisse:
                if self._halt.is_set():
                    return False
                if isinstance(roh, MegolmEvent):
                    await self._unlesbar(raum_id, roh)
                    continue
                if isinstance(roh, VerworfenesEreignis):
                    continue
                ereignis = Ereignis.aus_json(raum_id, roh.source)
                if ereignis is not None:
                    await self.verarbeitung.verarbeite(
                        ereignis, frisch=ereignis.event_id not in behandelt
                    )
        return True

    def _eigene_kennungen(self, ereignisse: list[Event]) -> dict[str, str]:
        """Transaktions-ID → Event-ID der Ereignisse des Bots, die seine Kennung tragen."""
        kennungen: dict[str, str] = {}
        for roh in ereignisse:
            if roh.source.get("sender") != self._client.user_id:
                continue
            if (gekennzeichnet := ausgangskennung(roh.source)) is not None:
                kennungen[gekennzeichnet[0]] = gekennzeichnet[1]
        return kennungen

    def _eigener_beitritt(self, ereignisse: list[Event]) -> int | None:
        for stelle in range(len(ereignisse) - 1, -1, -1):
            ereignis = ereignisse[stelle].source
            inhalt = ereignis.get("content")
            if (
                ereignis.get("type") == "m.room.member"
                and ereignis.get("state_key") == self._client.user_id
                and isinstance(inhalt, dict)
                and inhalt.get("membership") == "join"
            ):
                return stelle
        return None

    async def _nachgeholt(self, raum_id: str, bis: str) -> list[Event]:
        """Der Teil des Verlaufs, den ein abgeschnittener Sync ausließ (älteste zuerst)."""
        gesammelt: list[Event] = []
        start: str | None = bis
        for _ in range(NACHHOLEN_HOECHSTENS):
            seite = await self._client.room_messages(
                raum_id, start=start, direction=MessageDirection.back, limit=100
            )
            if isinstance(seite, RoomMessagesError):
                log.warning("Verlauf von %s nicht nachholbar: %s", raum_id, seite.message)
                break
            bekannt = await self._bekannte([e.source for e in seite.chunk])
            for ereignis in seite.chunk:
                if ereignis.source.get("event_id") in bekannt or (
                    self._eigener_beitritt([ereignis]) == 0
                ):
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
