"""Der Ausgangskorb: Was der Bot sagt, wird erst gespeichert, dann gesendet.

So geht nichts verloren, wenn der Homeserver gerade nicht erreichbar ist oder der Bot
abstürzt, und nichts kommt doppelt an: jede Zeile hat ihre feste Transaktions-ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.inhalt import Inhalt
from bot.transport import EndgueltigerFehler, Ratenlimit, Transport, VoruebergehenderFehler
from modelle.basis import jetzt
from modelle.datenbank import Sitzungsfabrik
from modelle.tabellen import Ausgang

log = logging.getLogger(__name__)

NACHRICHT = "m.room.message"
REAKTION = "m.reaction"


def einreihen(
    sitzung: AsyncSession,
    raum_id: str,
    ereignistyp: str,
    inhalt: Inhalt,
    projekte: tuple[str, ...] = (),
) -> Ausgang:
    """Reiht ein Ereignis in der Transaktion des Aufrufers ein; gesendet wird nach dem Commit."""
    eintrag = Ausgang(
        txn_id=f"klimabot-{uuid.uuid4().hex}",
        raum_id=raum_id,
        ereignistyp=ereignistyp,
        inhalt=inhalt,
        projekte=list(projekte),
    )
    sitzung.add(eintrag)
    return eintrag


@dataclass(frozen=True, slots=True)
class BotNachricht:
    projekte: tuple[str, ...]
    thread_wurzel: str | None


async def bot_nachricht(sitzung: AsyncSession, event_id: str) -> BotNachricht | None:
    """Projektbezüge und Thread einer gesendeten Nachricht des Bots; None, wenn nicht vom Bot."""
    zeile = (
        await sitzung.execute(
            select(Ausgang.projekte, Ausgang.inhalt).where(Ausgang.event_id == event_id)
        )
    ).first()
    if zeile is None:
        return None
    projekte, inhalt = zeile
    bezug = inhalt.get("m.relates_to")
    wurzel = bezug.get("event_id") if isinstance(bezug, dict) else None
    thread = wurzel if isinstance(bezug, dict) and bezug.get("rel_type") == "m.thread" else None
    return BotNachricht(tuple(projekte), thread if isinstance(thread, str) else None)


class Zusteller:
    """Sendet offene Einträge der Reihe nach; wartet bei Ratenlimit und Netzfehlern."""

    def __init__(
        self,
        sitzungen: Sitzungsfabrik,
        transport: Transport,
        *,
        erste_pause: float = 0.5,
        laengste_pause: float = 60.0,
        schlafen: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self._sitzungen = sitzungen
        self._transport = transport
        self._erste_pause = erste_pause
        self._laengste_pause = laengste_pause
        self._schlafen = schlafen
        self._wecker = asyncio.Event()

    def wecken(self) -> None:
        self._wecker.set()

    async def laufen(self) -> None:
        """Läuft, bis er abgebrochen wird."""
        pause = self._erste_pause
        while True:
            self._wecker.clear()
            try:
                await self.zustellen()
                pause = self._erste_pause
                await self._wecker.wait()
            except VoruebergehenderFehler as fehler:
                log.warning("Senden gescheitert (%s); neuer Versuch in %.1f s", fehler, pause)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wecker.wait(), timeout=pause)
                pause = min(pause * 2, self._laengste_pause)

    async def zustellen(self) -> int:
        """Sendet alle offenen Einträge; gibt die Zahl der gesendeten zurück.

        Wirft `VoruebergehenderFehler`, wenn der Homeserver gerade nicht will; die
        Reihenfolge bleibt gewahrt, der Eintrag bleibt offen.
        """
        gesendet = 0
        while True:
            async with self._sitzungen() as sitzung:
                offen = (
                    await sitzung.scalars(
                        select(Ausgang)
                        .where(Ausgang.gesendet_am.is_(None))
                        .order_by(Ausgang.id)
                        .limit(20)
                    )
                ).all()
            if not offen:
                return gesendet
            for eintrag in offen:
                await self._sende(eintrag)
                gesendet += 1

    async def _sende(self, eintrag: Ausgang) -> None:
        while True:
            try:
                event_id: str | None = await self._transport.sende(
                    eintrag.raum_id, eintrag.ereignistyp, eintrag.inhalt, eintrag.txn_id
                )
                fehler = None
            except Ratenlimit as limit:
                log.info(
                    "Ratenlimit des Homeservers: warte %d ms (%s)", limit.warte_ms, eintrag.raum_id
                )
                await self._schlafen(limit.warte_ms / 1000)
                continue
            except VoruebergehenderFehler as vorlaeufig:
                await self._vermerke(eintrag, None, str(vorlaeufig), erledigt=False)
                raise
            except EndgueltigerFehler as endgueltig:
                log.error(
                    "Nachricht %s in %s nicht zustellbar: %s",
                    eintrag.id,
                    eintrag.raum_id,
                    endgueltig,
                )
                event_id, fehler = None, str(endgueltig)
            await self._vermerke(eintrag, event_id, fehler, erledigt=True)
            return

    async def _vermerke(
        self, eintrag: Ausgang, event_id: str | None, fehler: str | None, *, erledigt: bool
    ) -> None:
        async with self._sitzungen.begin() as sitzung:
            zeile = await sitzung.get_one(Ausgang, eintrag.id)
            zeile.versuche += 1
            zeile.letzter_fehler = fehler
            if erledigt:
                zeile.event_id = event_id
                zeile.gesendet_am = jetzt()
