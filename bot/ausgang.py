"""Der Ausgangskorb: Was der Bot sagt, wird erst gespeichert, dann gesendet.

So geht nichts verloren, wenn der Homeserver gerade nicht erreichbar ist oder der Bot
abstürzt, und nichts kommt doppelt an: jede Zeile hat ihre feste Transaktions-ID.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from befehle.grundlagen import Antwort
from bot.inhalt import ANHANG, Inhalt, bildinhalt, nachrichteninhalt
from bot.transport import EndgueltigerFehler, Ratenlimit, Transport, VoruebergehenderFehler
from modelle.basis import jetzt
from modelle.datenbank import Sitzungsfabrik, nicht_erreichbar
from modelle.tabellen import Ausgang, Versand, Zustand

log = logging.getLogger(__name__)

NACHRICHT = "m.room.message"
REAKTION = "m.reaction"
# Unter diesem Schlüssel in `sitzung.info` sammelt `einreihen` die Einträge einer Transaktion.
EINGEREIHT = "klimabot.eingereiht"


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
    sitzung.info.setdefault(EINGEREIHT, []).append(eintrag)
    return eintrag


def eingereiht(sitzung: AsyncSession) -> list[Ausgang]:
    """Was in dieser Sitzung eingereiht wurde (nach dem Commit: mit ID, bereit zum Übergeben)."""
    return list(sitzung.info.get(EINGEREIHT, ()))


def verwerfe_eingereihtes(sitzung: AsyncSession) -> None:
    """Nach einem Rollback: das Eingereihte gibt es nicht mehr."""
    sitzung.info.pop(EINGEREIHT, None)


VERWEIS = "ausgang:"
DIREKT = "direkt:"


def verweis(eintrag: Ausgang) -> str:
    """Platzhalter für die Event-ID eines Eintrags, die es erst nach dem Senden gibt."""
    return f"{VERWEIS}{eintrag.txn_id}"


def direktraum(matrix_id: str) -> str:
    """Platzhalter für den Direktraum mit einer Person; angelegt wird er beim ersten Senden."""
    return f"{DIREKT}{matrix_id}"


def reihe_antwort_ein(
    sitzung: AsyncSession,
    raum_id: str,
    antwort: Antwort,
    *,
    antwort_auf: str | None = None,
    thread_wurzel: str | None = None,
    benachrichtigen: bool = False,
) -> Ausgang | None:
    """Reiht Nachricht und Thread einer Antwort ein; gibt den Eintrag der Hauptnachricht zurück.

    `benachrichtigen` gilt nur der Hauptnachricht: Sie pingt die in ihr Erwähnten. Die Folgen
    im Thread sind Einzelheiten dazu und bleiben stumm, sonst käme je Projekt ein Ping.
    """
    if antwort.nachricht is None:
        return None
    kopf = einreihen(
        sitzung,
        raum_id,
        NACHRICHT,
        nachrichteninhalt(
            antwort.nachricht,
            projekte=antwort.projekte,
            antwort_auf=antwort_auf,
            thread_wurzel=thread_wurzel,
            benachrichtigen=benachrichtigen,
        ),
        antwort.projekte,
    )
    # Folgen hängen im Thread der Hauptnachricht – oder im selben Thread, wenn sie schon darin ist.
    wurzel = thread_wurzel or verweis(kopf)
    for folge in antwort.thread:
        if folge.nachricht is not None:
            einreihen(
                sitzung,
                raum_id,
                NACHRICHT,
                nachrichteninhalt(folge.nachricht, projekte=folge.projekte, thread_wurzel=wurzel),
                folge.projekte,
            )
        if folge.bild is not None:
            bild = folge.bild
            einreihen(
                sitzung,
                raum_id,
                NACHRICHT,
                bildinhalt(
                    bild.beschreibung,
                    bild.dateiname,
                    bild.mimetype,
                    bild.daten,
                    thread_wurzel=wurzel,
                ),
            )
    return kopf


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
    """Sendet offene Einträge der Reihe nach; wartet bei Ratenlimit und Netzfehlern.

    Die Datenbank bleibt die Quelle: gesendet wird, was dort offen ist. Nur eine Abkürzung gibt
    es – ist der Korb leer (die letzte Abfrage fand nichts, seither kein Fehler) und übergibt
    die Verarbeitung nach ihrem Commit die eben eingereihten Einträge, sendet er diese, ohne sie
    erst wieder zu suchen, und sieht erst danach nach. Das spart auf dem Weg vom Befehl zur
    Antwort eine Abfrage; wer ohne Übergabe weckt, schaltet die Abkürzung bis zur nächsten
    leeren Abfrage ab.
    """

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
        self._leer = False  # die letzte Abfrage fand nichts Offenes, seither nichts gesendet
        self._uebergeben: list[Ausgang] = []

    def wecken(self) -> None:
        """Es gibt (vielleicht) Neues in der Datenbank: nachsehen."""
        self._leer = False
        self._uebergeben.clear()
        self._wecker.set()

    def uebergib(self, eintraege: Sequence[Ausgang]) -> None:
        """Eben festgeschriebene Einträge: bei leerem Korb sofort senden, sonst wie `wecken`."""
        if not eintraege:
            return
        if self._leer:
            self._uebergeben.extend(eintraege)
            self._wecker.set()
        else:
            self.wecken()

    async def laufen(self) -> None:
        """Läuft, bis er abgebrochen wird."""
        pause = self._erste_pause
        while True:
            self._wecker.clear()
            try:
                await self.zustellen()
                pause = self._erste_pause
                await self._wecker.wait()
            except Exception as fehler:
                if isinstance(fehler, VoruebergehenderFehler):
                    log.warning("Senden gescheitert (%s); neuer Versuch in %.1f s", fehler, pause)
                elif nicht_erreichbar(fehler):
                    log.warning(
                        "Ausgangskorb: Datenbank nicht erreichbar (%s); neuer Versuch in %.1f s",
                        fehler,
                        pause,
                    )
                else:
                    raise
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
            offen = await self._naechste()
            if not offen:
                return gesendet
            for eintrag in offen:
                await self._sende(eintrag)
                gesendet += 1

    async def _naechste(self) -> Sequence[Ausgang]:
        """Die Übergebenen, wenn der Korb sonst leer ist, sonst die ältesten offenen Einträge."""
        if self._leer and self._uebergeben:
            uebergeben = sorted(self._uebergeben, key=lambda e: e.id)
            self._leer = False
            self._uebergeben.clear()
            return uebergeben
        self._leer = False
        async with self._sitzungen() as sitzung:
            offen = (
                await sitzung.scalars(
                    select(Ausgang)
                    .where(Ausgang.gesendet_am.is_(None))
                    .order_by(Ausgang.id)
                    .limit(20)
                )
            ).all()
        # Leer heißt: alles gesendet, bis auf das, was gleich übergeben wird.
        self._leer = not offen
        return offen

    async def _sende(self, eintrag: Ausgang) -> None:
        while True:
            try:
                raum_id, inhalt = await self._vorbereitet(eintrag)
                event_id: str | None = await self._transport.sende(
                    raum_id, eintrag.ereignistyp, inhalt, eintrag.txn_id
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

    async def _vorbereitet(self, eintrag: Ausgang) -> tuple[str, Inhalt]:
        """Löst Platzhalter auf: Direktraum, Thread-Wurzel, hochzuladende Bilder.

        Was dabei entsteht (Raum-ID, mxc-URL), wird sofort gespeichert, damit ein erneuter
        Versuch weder einen zweiten Raum anlegt noch ein Bild zweimal hochlädt.
        """
        raum_id, inhalt = eintrag.raum_id, dict(eintrag.inhalt)
        geaendert = False
        if raum_id.startswith(DIREKT):
            raum_id = await self._direktraum(raum_id.removeprefix(DIREKT))
            geaendert = True
        bezug = inhalt.get("m.relates_to")
        if isinstance(bezug, dict) and str(bezug.get("event_id", "")).startswith(VERWEIS):
            wurzel = await self._event_id_von(str(bezug["event_id"]).removeprefix(VERWEIS))
            if wurzel is None:
                # Die Hauptnachricht kam nie an: dann eben ohne Thread, aber nicht verloren.
                inhalt.pop("m.relates_to")
            else:
                inhalt["m.relates_to"] = {
                    **bezug,
                    "event_id": wurzel,
                    "m.in_reply_to": {"event_id": wurzel},
                }
            geaendert = True
        anhang = inhalt.get(ANHANG)
        if isinstance(anhang, dict):
            inhalt |= await self._transport.lade_hoch(
                raum_id,
                base64.b64decode(anhang["daten"]),
                str(anhang["mimetype"]),
                str(inhalt.get("filename", "bild")),
            )
            del inhalt[ANHANG]
            geaendert = True
        if geaendert:
            async with self._sitzungen.begin() as sitzung:
                zeile = await sitzung.get_one(Ausgang, eintrag.id)
                zeile.raum_id, zeile.inhalt = raum_id, inhalt
            eintrag.raum_id, eintrag.inhalt = raum_id, inhalt
        return raum_id, inhalt

    async def _event_id_von(self, txn_id: str) -> str | None:
        async with self._sitzungen() as sitzung:
            return await sitzung.scalar(select(Ausgang.event_id).where(Ausgang.txn_id == txn_id))

    async def _direktraum(self, matrix_id: str) -> str:
        schluessel = f"direktraum:{matrix_id}"
        async with self._sitzungen() as sitzung:
            bekannt = await sitzung.scalar(
                select(Zustand.wert).where(Zustand.schluessel == schluessel)
            )
        if bekannt is not None:
            return bekannt
        raum_id = await self._transport.erstelle_direktraum(matrix_id)
        async with self._sitzungen.begin() as sitzung:
            sitzung.add(Zustand(schluessel=schluessel, wert=raum_id))
        log.info("Direktraum mit %s angelegt: %s", matrix_id, raum_id)
        return raum_id

    async def _vermerke(
        self, eintrag: Ausgang, event_id: str | None, fehler: str | None, *, erledigt: bool
    ) -> None:
        werte: dict[str, Any] = {"versuche": Ausgang.versuche + 1, "letzter_fehler": fehler}
        if erledigt:
            werte |= {"event_id": event_id, "gesendet_am": jetzt()}
        async with self._sitzungen.begin() as sitzung:
            await sitzung.execute(
                update(Ausgang)
                .where(Ausgang.id == eintrag.id)
                .values(**werte)
                .execution_options(synchronize_session=False)
            )
            if erledigt:
                # Geplantes (Abfrage, Bericht, Erinnerung) vermerkt bis hierher den Platzhalter.
                await sitzung.execute(
                    update(Versand)
                    .where(Versand.event_id == verweis(eintrag))
                    .values(event_id=event_id)
                    .execution_options(synchronize_session=False)
                )
