"""Der Zusteller: sendet, was im Ausgangskorb (`bot.ausgang`) offen ist.

Zugestellt wird je Raum: innerhalb eines Raums der Reihe nach (Thread-Folgen hinter ihrer
Hauptnachricht, Reaktion und Antwort in Folge), die Räume nebeneinander. Ein Raum, der nicht
will – der Bot ist nicht darin, eine Anfrage hängt bis zum Zeitlimit –, hält so keinen anderen
auf. Wie es nach einem Fehler weitergeht, sagt seine Art (`bot.transport`): Ratenlimits
werden abgewartet, Netz- und Serverausfälle ohne Grenze mit wachsender Pause wiederholt,
„nicht im Raum“ und Unbekanntes höchstens `HOECHSTENS_VERSUCHE`-mal, dann wird die Nachricht
aufgegeben (`Ausgang.aufgegeben_am`), protokolliert, und der nächste Wochenbericht nennt sie.
Direkträume legt er beim ersten Senden an (`modelle.direktraeume`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import enum
import functools
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Update, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.ausgang import DIREKT, VERWEIS, verweis
from bot.inhalt import ANHANG, Inhalt
from bot.metriken import Metriken
from bot.transport import (
    BegrenzterFehler,
    EndgueltigerFehler,
    NichtImRaum,
    Ratenlimit,
    Sendefehler,
    Transport,
    UnbekannterFehler,
    VoruebergehenderFehler,
)
from modelle.basis import jetzt
from modelle.datenbank import Sitzungsfabrik, nicht_erreichbar
from modelle.direktraeume import (
    aktiver_direktraum,
    beabsichtige_direktraum,
    gib_direktraum_auf,
    vermerke_raum,
)
from modelle.tabellen import Ausgang, Versand

log = logging.getLogger(__name__)

# So oft höchstens wird eine Nachricht versucht, deren Fehler sich vielleicht nie gibt („nicht im
# Raum“, Unbekanntes). Mit den Pausen des Zustellers (0,5 s, doppelt so lang bis 60 s) ist das
# gut eine Minute: genug für eine Einladung, die gerade unterwegs ist.
HOECHSTENS_VERSUCHE = 8
# So viele offene Einträge holt ein Blick in den Korb höchstens auf einmal.
STAPEL = 100
# Weder gesendet noch aufgegeben.
OFFEN = (Ausgang.gesendet_am.is_(None), Ausgang.aufgegeben_am.is_(None))


async def offener_ausgangskorb(sitzung: AsyncSession) -> tuple[int, dt.datetime | None]:
    """Wie viele Einträge offen sind und wann der älteste von ihnen eingereiht wurde."""
    zeile = (
        await sitzung.execute(select(func.count(), func.min(Ausgang.erstellt)).where(*OFFEN))
    ).one()
    return int(zeile[0]), zeile[1]


@functools.cache
def _ausgang_vermerk(spalten: tuple[str, ...]) -> Update:
    """UPDATE eines Eintrags mit diesen Spalten als Parametern – einmal gebaut, nicht bei jeder
    Nachricht: den Ausdruck zusammenzusetzen kostete mehr CPU als ihn auszuführen."""
    return (
        update(Ausgang)
        .where(Ausgang.id == bindparam("eintrag_id"))
        .values(
            versuche=Ausgang.versuche + 1,
            **{s: bindparam(f"neu_{s}", type_=Ausgang.__table__.c[s].type) for s in spalten},
        )
        .execution_options(synchronize_session=False)
    )


_VERSAND_VERMERK = (
    update(Versand)
    .where(Versand.event_id == bindparam("platzhalter"))
    .values(event_id=bindparam("echte_id"))
    .execution_options(synchronize_session=False)
)


class _Ergebnis(enum.Enum):
    GESENDET = enum.auto()
    AUFGEGEBEN = enum.auto()
    # Homeserver oder Datenbank gerade weg: warten, ohne Grenze.
    NETZ = enum.auto()
    # Ein begrenzter Fehler unter der Grenze: warten, dann erneut.
    BEGRENZT = enum.auto()


@dataclass(eq=False)
class _Raum:
    """Die Zustellung in einen Raum: was wartet, und wohin es geht."""

    # `Ausgang.raum_id`: eine Raum-ID oder der Platzhalter eines Direktraums.
    schluessel: str
    # Nach ID geordnet; der erste Eintrag ist der, der gerade versucht wird.
    schlange: list[Ausgang] = field(default_factory=list)
    anstoss: asyncio.Event = field(default_factory=asyncio.Event)
    # Die Raum-ID, in die gesendet wird; bei einem Direktraum erst nach dem Auflösen.
    ziel: str | None = None
    direktraum_id: int | None = None
    sendet: bool = False
    wartet_auf_netz: bool = False
    # In der Pause nach einem Fehler: die Zustellung sendet gerade nicht.
    pausiert: bool = False

    def reihe_ein(self, eintrag: Ausgang) -> None:
        # Was gerade gesendet wird, bleibt vorn, auch wenn ein älterer Eintrag nachkommt (zwei
        # Transaktionen können in anderer Reihenfolge festschreiben, als ihre IDs vergeben wurden).
        stelle = len(self.schlange)
        while stelle > (1 if self.sendet else 0) and self.schlange[stelle - 1].id > eintrag.id:
            stelle -= 1
        self.schlange.insert(stelle, eintrag)


class Zusteller:
    """Sendet die offenen Einträge des Ausgangskorbs, je Raum der Reihe nach, Räume nebeneinander.

    Die Datenbank bleibt die Quelle: gesendet wird, was dort offen ist. `laufen` sieht beim
    Start und bei jedem `wecken` im Korb nach und gibt jeden Eintrag, den noch keine
    Zustellung kennt, an die seines Raums (eine Aufgabe je Raum mit offenen Einträgen). Nur
    eine Abkürzung gibt es: kennt der Zusteller schon alles Offene (der letzte Blick fand nichts
    Neues, seither kein `wecken`) und übergibt die Verarbeitung nach ihrem Commit die eben
    eingereihten Einträge, reiht er diese ein, ohne sie erst zu suchen. So liegt auf dem Weg
    vom Befehl zur Antwort keine Abfrage des Korbs, auch wenn ein anderer Raum gerade hängt;
    wer ohne Übergabe weckt, schaltet die Abkürzung bis zum nächsten Blick ab.

    Die Sync-Schleife holt Neues erst, wenn die Antworten hinaus sind (`abgesendet`).
    """

    def __init__(
        self,
        sitzungen: Sitzungsfabrik,
        transport: Transport,
        *,
        erste_pause: float = 0.5,
        laengste_pause: float = 60.0,
        hoechstens_versuche: int = HOECHSTENS_VERSUCHE,
        schlafen: Callable[[float], Awaitable[object]] = asyncio.sleep,
        metriken: Metriken | None = None,
        schon_gesendet: Callable[[str, Collection[str]], Awaitable[dict[str, str]]] | None = None,
    ) -> None:
        self._sitzungen = sitzungen
        self._metriken = Metriken() if metriken is None else metriken
        self._schon_gesendet = schon_gesendet
        self._transport = transport
        self._erste_pause = erste_pause
        self._laengste_pause = laengste_pause
        self._hoechstens = hoechstens_versuche
        self._schlafen = schlafen
        self._wecker = asyncio.Event()
        self._laeuft = False
        # Alles Offene ist einer Zustellung bekannt (der letzte Blick fand nichts Neues).
        self._leer = False
        self._raeume: dict[str, _Raum] = {}
        self._aufgaben: set[asyncio.Task[None]] = set()
        # IDs der Einträge, die in einer Schlange stehen.
        self._bekannt: set[int] = set()
        # Während eines Blicks in den Korb erledigt: was er noch als offen las, ist es nicht mehr.
        self._erledigt_seit_blick: set[int] = set()
        # Fehlschläge mit begrenztem Fehler je Eintrag (im Speicher: ein Neustart zählt neu).
        self._fehlversuche: dict[int, int] = {}
        self._ausfall: BaseException | None = None
        # Gesetzt, solange keine Zustellung sendet (eine Pause nach einem Fehler zählt nicht).
        self._still = asyncio.Event()
        self._still.set()

    def wecken(self) -> None:
        """Es gibt (vielleicht) Neues in der Datenbank: nachsehen."""
        self._leer = False
        self._wecker.set()

    def raum_belegt(self, raum_id: str) -> bool:
        """Wartet für diesen Raum schon etwas – oder kennt der laufende Zusteller nicht alles
        Offene? Dann soll eine sofortige Antwort (`bot.verarbeitung`) sich hinten anstellen,
        statt Früheres zu überholen."""
        raum = self._raeume.get(raum_id)
        return bool(raum and raum.schlange) or (self._laeuft and not self._leer)

    async def abgesendet(self, frist: float) -> None:
        """Kehrt zurück, sobald keine Zustellung mehr sendet, spätestens nach `frist` Sekunden.

        Darauf wartet die Sync-Schleife, bevor sie Neues holt. Bei einem Schub kommen sonst
        viele kleine Syncs mit je einem Befehl, während die Antworten noch hinausgehen. Jeder
        davon kostet den Homeserver CPU, und die fehlt dann beim Senden. So holt ein Sync
        alles, was inzwischen kam. Eine Zustellung in der Pause nach einem Fehler hält nichts auf.
        """
        if self._still.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._still.wait(), timeout=frist)

    def _stille_pruefen(self) -> None:
        if any(raum.schlange and not raum.pausiert for raum in self._raeume.values()):
            self._still.clear()
        else:
            self._still.set()

    def uebergib(self, eintraege: Sequence[Ausgang]) -> None:
        """Eben festgeschriebene Einträge: kennt der Zusteller alles Offene, sofort einreihen,
        sonst wie `wecken`. Schon Gesendetes (eine vorige Instanz sandte es) bleibt draußen."""
        eintraege = [e for e in eintraege if e.gesendet_am is None]
        if not eintraege:
            return
        if self._leer and self._laeuft:
            self._verteile(eintraege)
        else:
            self.wecken()

    async def laufen(self) -> None:
        """Läuft, bis er abgebrochen wird.

        Stirbt die Zustellung eines Raums an einem Fehler des Programms (nicht an einem des
        Homeservers oder einer unerreichbaren Datenbank), endet `laufen` mit diesem Fehler: wer
        ihn startet, muss das bemerken (`bot.app`).
        """
        self._laeuft = True
        pause = self._erste_pause
        try:
            await self._abgleichen()
            while True:
                self._wecker.clear()
                if self._ausfall is not None:
                    raise self._ausfall
                try:
                    if await self._nachsehen():
                        pause = self._erste_pause
                        await self._wecker.wait()
                except Exception as fehler:
                    if not nicht_erreichbar(fehler):
                        raise
                    self._metriken.datenbank_nicht_erreichbar("zusteller")
                    log.warning(
                        "Ausgangskorb: Datenbank nicht erreichbar (%s); neuer Versuch in %.1f s",
                        fehler,
                        pause,
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wecker.wait(), timeout=pause)
                    pause = min(pause * 2, self._laengste_pause)
        finally:
            self._laeuft = self._leer = False
            aufgaben = list(self._aufgaben)
            for aufgabe in aufgaben:
                aufgabe.cancel()
            await asyncio.gather(*aufgaben, return_exceptions=True)
            self._raeume.clear()
            self._bekannt.clear()
            self._still.set()

    async def zustellen(self) -> int:
        """Ein Durchgang durch den Korb; gibt die Zahl der gesendeten Einträge zurück.

        Räume nebeneinander, je Raum der Reihe nach. Scheitert ein Eintrag, ohne dass er
        aufgegeben wird, bleibt er mit allem Späteren seines Raums offen; Ratenlimits werden
        abgewartet. Für Tests und das letzte Senden beim Anhalten, nicht neben `laufen`.
        """
        gesendet = 0
        versucht: set[int] = set()
        angehalten: set[str] = set()  # Räume, in denen ein Eintrag offen blieb
        while True:
            eintraege, _ = await self._offene(versucht | self._bekannt)
            if not eintraege:
                return gesendet
            versucht.update(e.id for e in eintraege)
            je_raum: dict[str, list[Ausgang]] = {}
            for eintrag in eintraege:
                if eintrag.raum_id not in angehalten:
                    je_raum.setdefault(eintrag.raum_id, []).append(eintrag)
            ergebnisse = await asyncio.gather(
                *(
                    self._durchgang(_Raum(schluessel), liste)
                    for schluessel, liste in je_raum.items()
                )
            )
            for schluessel, (anzahl, vollstaendig) in zip(je_raum, ergebnisse, strict=True):
                gesendet += anzahl
                if not vollstaendig:
                    angehalten.add(schluessel)

    async def _abgleichen(self) -> None:
        """Vor dem ersten Senden: was eine vorige Instanz (ein anderes Gerät) schon sandte,
        aber nicht mehr als gesendet vermerken konnte, wird vermerkt statt noch einmal gesendet.

        Nur mit `schon_gesendet` (der Bot selbst). Scheitert der Abgleich, sendet der Zusteller
        wie bisher: lieber eine Antwort doppelt als keine.
        """
        if self._schon_gesendet is None:
            return
        try:
            async with self._sitzungen() as sitzung:
                offen = (
                    await sitzung.scalars(select(Ausgang).where(*OFFEN).order_by(Ausgang.id))
                ).all()
            je_raum: dict[str, list[Ausgang]] = {}
            for eintrag in offen:
                if not eintrag.raum_id.startswith(DIREKT):
                    je_raum.setdefault(eintrag.raum_id, []).append(eintrag)
        except Exception as fehler:
            log.warning("Abgleich des Ausgangskorbs gescheitert (%s)", fehler)
            return
        schon = 0
        for raum_id, eintraege in je_raum.items():
            try:
                gefunden = await self._schon_gesendet(raum_id, {e.txn_id for e in eintraege})
                for eintrag in eintraege:
                    if eintrag.txn_id in gefunden:
                        await self._vermerke_gesendet(eintrag, gefunden[eintrag.txn_id])
                        schon += 1
            except Exception as fehler:
                log.warning("Abgleich des Ausgangskorbs mit %s gescheitert (%s)", raum_id, fehler)
        if schon:
            log.info(
                "Ausgangskorb: %d Nachricht(en) hatte eine vorige Instanz schon gesendet; "
                "vermerkt, nicht noch einmal gesendet",
                schon,
            )

    # --- Verteilen ---------------------------------------------------------------------------

    async def _nachsehen(self) -> bool:
        """Reiht ein, was offen ist und noch keine Zustellung kennt; True: mehr gibt es nicht."""
        self._leer = False
        self._erledigt_seit_blick.clear()
        neu, vollstaendig = await self._offene(self._bekannt)
        self._verteile([e for e in neu if e.id not in self._erledigt_seit_blick])
        self._leer = vollstaendig
        return vollstaendig

    async def _offene(self, ausser: Collection[int]) -> tuple[list[Ausgang], bool]:
        """Die ältesten offenen Einträge außer `ausser` (bis `STAPEL`); und ob es alle sind."""
        async with self._sitzungen() as sitzung:
            if not ausser:
                zeilen = (
                    await sitzung.scalars(
                        select(Ausgang).where(*OFFEN).order_by(Ausgang.id).limit(STAPEL + 1)
                    )
                ).all()
                return list(zeilen[:STAPEL]), len(zeilen) <= STAPEL
            # Erst nur die IDs (aus dem Teilindex): was schon in einer Schlange steht, hängt
            # vielleicht – es jedes Mal ganz zu lesen, wäre Arbeit für nichts.
            ids = (
                await sitzung.scalars(select(Ausgang.id).where(*OFFEN).order_by(Ausgang.id))
            ).all()
            neu = [i for i in ids if i not in ausser]
            if not neu:
                return [], True
            zeilen = (
                await sitzung.scalars(
                    select(Ausgang).where(Ausgang.id.in_(neu[:STAPEL])).order_by(Ausgang.id)
                )
            ).all()
            return list(zeilen), len(neu) <= STAPEL

    def _verteile(self, eintraege: Sequence[Ausgang]) -> None:
        for eintrag in sorted(eintraege, key=lambda e: e.id):
            if eintrag.id in self._bekannt:
                continue
            self._bekannt.add(eintrag.id)
            raum = self._raeume.get(eintrag.raum_id)
            if raum is None:
                raum = self._raeume[eintrag.raum_id] = _Raum(eintrag.raum_id)
                aufgabe = asyncio.create_task(
                    self._raum_zustellen(raum), name=f"zustellung {eintrag.raum_id}"
                )
                self._aufgaben.add(aufgabe)
                aufgabe.add_done_callback(self._zustellung_beendet)
            raum.reihe_ein(eintrag)
            raum.anstoss.set()
        self._stille_pruefen()

    def _zustellung_beendet(self, aufgabe: asyncio.Task[None]) -> None:
        self._aufgaben.discard(aufgabe)
        if aufgabe.cancelled():
            return
        fehler = aufgabe.exception()
        if fehler is not None and self._ausfall is None:
            self._ausfall = fehler
            self._wecker.set()

    # --- Je Raum -----------------------------------------------------------------------------

    async def _raum_zustellen(self, raum: _Raum) -> None:
        """Sendet die Schlange eines Raums der Reihe nach; endet, wenn sie leer ist."""
        pause = self._erste_pause
        try:
            while raum.schlange:
                eintrag = raum.schlange[0]
                raum.sendet = True
                try:
                    ergebnis = await self._versuch(raum, eintrag)
                finally:
                    raum.sendet = False
                if ergebnis in (_Ergebnis.GESENDET, _Ergebnis.AUFGEGEBEN):
                    raum.schlange.pop(0)
                    self._bekannt.discard(eintrag.id)
                    self._stille_pruefen()
                    self._erledigt_seit_blick.add(eintrag.id)
                    pause = self._erste_pause
                    if ergebnis is _Ergebnis.GESENDET:
                        # Der Homeserver ist wieder da: wer seinetwegen wartet, muss es nicht mehr.
                        for anderer in self._raeume.values():
                            if anderer.wartet_auf_netz:
                                anderer.anstoss.set()
                    continue
                raum.wartet_auf_netz = ergebnis is _Ergebnis.NETZ
                try:
                    await self._warte(raum, pause)
                finally:
                    raum.wartet_auf_netz = False
                pause = min(pause * 2, self._laengste_pause)
        finally:
            if self._raeume.get(raum.schluessel) is raum:
                del self._raeume[raum.schluessel]
            for uebrig in raum.schlange:
                self._bekannt.discard(uebrig.id)
            self._stille_pruefen()

    async def _warte(self, raum: _Raum, pause: float) -> None:
        """Wartet `pause` – oder bis ein neuer Eintrag für den Raum kommt (dann gleich erneut)."""
        raum.anstoss.clear()
        raum.pausiert = True
        self._stille_pruefen()
        schlaf = asyncio.ensure_future(self._schlafen(pause))
        anstoss = asyncio.ensure_future(raum.anstoss.wait())
        try:
            await asyncio.wait({schlaf, anstoss}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            schlaf.cancel()
            anstoss.cancel()
            raum.pausiert = False
            self._stille_pruefen()

    async def _durchgang(self, raum: _Raum, eintraege: list[Ausgang]) -> tuple[int, bool]:
        """Sendet der Reihe nach bis zum ersten Eintrag, der offen bleibt; (gesendet, alle)."""
        gesendet = 0
        for eintrag in eintraege:
            ergebnis = await self._versuch(raum, eintrag)
            if ergebnis is _Ergebnis.GESENDET:
                gesendet += 1
            elif ergebnis is not _Ergebnis.AUFGEGEBEN:
                return gesendet, False
        return gesendet, True

    async def _versuch(self, raum: _Raum, eintrag: Ausgang) -> _Ergebnis:
        """Ein Versuch, den Eintrag zu senden (Ratenlimits werden darin abgewartet)."""
        while True:
            try:
                ziel = await self._ziel(raum)
                inhalt = await self._vorbereitet(eintrag, ziel)
                event_id = await self._transport.sende(
                    ziel, eintrag.ereignistyp, inhalt, eintrag.txn_id
                )
                await self._vermerke_gesendet(eintrag, event_id)
            except Ratenlimit as limit:
                log.info(
                    "Ratenlimit des Homeservers: warte %d ms (%s)", limit.warte_ms, eintrag.raum_id
                )
                await self._schlafen(limit.warte_ms / 1000)
                continue
            except Exception as fehler:
                return await self._gescheitert(raum, eintrag, fehler)
            self._fehlversuche.pop(eintrag.id, None)
            return _Ergebnis.GESENDET

    async def _gescheitert(self, raum: _Raum, eintrag: Ausgang, fehler: Exception) -> _Ergebnis:
        """Entscheidet nach der Art des Fehlers, wie es mit dem Eintrag weitergeht."""
        if nicht_erreichbar(fehler):
            self._metriken.datenbank_nicht_erreichbar("zusteller")
            log.warning("Ausgangskorb: Datenbank nicht erreichbar (%s); neuer Versuch", fehler)
            return _Ergebnis.NETZ
        if isinstance(fehler, SQLAlchemyError):
            # Die eigene Buchführung scheitert: ein Fehler im Programm, nicht beim Homeserver.
            raise fehler
        if isinstance(fehler, VoruebergehenderFehler):
            log.warning("Senden in %s gescheitert (%s); neuer Versuch", eintrag.raum_id, fehler)
            return await self._vermerke_fehlschlag(eintrag, fehler, _Ergebnis.NETZ)
        if isinstance(fehler, EndgueltigerFehler):
            return await self._gib_auf(raum, eintrag, fehler)
        if not isinstance(fehler, BegrenzterFehler):
            log.error(
                "Unerwarteter Fehler beim Senden von Nachricht %s in %s",
                eintrag.id,
                eintrag.raum_id,
                exc_info=fehler,
            )
            fehler = UnbekannterFehler(f"{type(fehler).__name__}: {fehler}")
        versuche = self._fehlversuche.get(eintrag.id, 0) + 1
        self._fehlversuche[eintrag.id] = versuche
        if versuche >= self._hoechstens:
            return await self._gib_auf(raum, eintrag, fehler)
        log.warning(
            "Nachricht %s in %s nicht gesendet (%s); Versuch %d von %d",
            eintrag.id,
            eintrag.raum_id,
            fehler,
            versuche,
            self._hoechstens,
        )
        return await self._vermerke_fehlschlag(eintrag, fehler, _Ergebnis.BEGRENZT)

    async def _vermerke_fehlschlag(
        self, eintrag: Ausgang, fehler: Exception, ergebnis: _Ergebnis
    ) -> _Ergebnis:
        try:
            async with self._sitzungen.begin() as sitzung:
                await sitzung.execute(
                    update(Ausgang)
                    .where(Ausgang.id == eintrag.id)
                    .values(versuche=Ausgang.versuche + 1, letzter_fehler=str(fehler))
                    .execution_options(synchronize_session=False)
                )
        except Exception as db_fehler:
            if not nicht_erreichbar(db_fehler):
                raise
            self._metriken.datenbank_nicht_erreichbar("zusteller")
            return _Ergebnis.NETZ
        return ergebnis

    async def _gib_auf(self, raum: _Raum, eintrag: Ausgang, fehler: Exception) -> _Ergebnis:
        try:
            async with self._sitzungen.begin() as sitzung:
                # Eine geplante Nachricht, die nie ankam, hat keine Event-ID.
                await self._vermerke(
                    sitzung, eintrag, None, letzter_fehler=str(fehler), aufgegeben_am=jetzt()
                )
        except Exception as db_fehler:
            if not nicht_erreichbar(db_fehler):
                raise
            self._metriken.datenbank_nicht_erreichbar("zusteller")
            return _Ergebnis.NETZ
        self._fehlversuche.pop(eintrag.id, None)
        log.error(
            "Nachricht %s in %s nicht zustellbar, aufgegeben: %s",
            eintrag.id,
            eintrag.raum_id,
            fehler,
        )
        if isinstance(fehler, NichtImRaum) and raum.direktraum_id is not None and raum.ziel:
            # Der Bot ist aus dem Direktraum geflogen: die nächste Nachricht bekommt einen neuen.
            try:
                await self._gib_direktraum_auf(raum.direktraum_id, raum.ziel, "Bot nicht darin")
            except Exception as db_fehler:
                if not nicht_erreichbar(db_fehler):
                    raise
                self._metriken.datenbank_nicht_erreichbar("zusteller")
                log.warning("Direktraum %s nicht aufgegeben (%s)", raum.ziel, db_fehler)
            raum.ziel = raum.direktraum_id = None
        return _Ergebnis.AUFGEGEBEN

    async def _vermerke_gesendet(self, eintrag: Ausgang, event_id: str) -> None:
        async with self._sitzungen.begin() as sitzung:
            await self._vermerke(
                sitzung,
                eintrag,
                event_id,
                letzter_fehler=None,
                event_id=event_id,
                gesendet_am=jetzt(),
            )

    @staticmethod
    async def _vermerke(
        sitzung: AsyncSession, eintrag: Ausgang, versand_event_id: str | None, **werte: object
    ) -> None:
        """Schreibt, wie ein Eintrag endete. Geplantes (Abfrage, Bericht, Erinnerung) vermerkt
        bis hierher den Platzhalter; nun bekommt es die echte Event-ID oder, nie angekommen,
        keine."""
        await sitzung.execute(
            _ausgang_vermerk(tuple(sorted(werte))),
            {"eintrag_id": eintrag.id, **{f"neu_{s}": w for s, w in werte.items()}},
        )
        await sitzung.execute(
            _VERSAND_VERMERK, {"platzhalter": verweis(eintrag), "echte_id": versand_event_id}
        )

    # --- Platzhalter auflösen ----------------------------------------------------------------

    async def _ziel(self, raum: _Raum) -> str:
        if not raum.schluessel.startswith(DIREKT):
            return raum.schluessel
        if raum.ziel is None:
            raum.ziel, raum.direktraum_id = await self._direktraum(
                raum.schluessel.removeprefix(DIREKT)
            )
        return raum.ziel

    async def _vorbereitet(self, eintrag: Ausgang, raum_id: str) -> Inhalt:
        """Löst Platzhalter im Inhalt auf: Thread-Wurzel, hochzuladende Bilder.

        Was dabei entsteht (Event-ID, mxc-URL), wird sofort gespeichert, damit ein erneuter
        Versuch kein Bild zweimal hochlädt.
        """
        inhalt = dict(eintrag.inhalt)
        geaendert = False
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
                zeile.inhalt = inhalt
            eintrag.inhalt = inhalt
        return inhalt

    async def _event_id_von(self, txn_id: str) -> str | None:
        async with self._sitzungen() as sitzung:
            return await sitzung.scalar(select(Ausgang.event_id).where(Ausgang.txn_id == txn_id))

    async def _direktraum(self, matrix_id: str) -> tuple[str, int]:
        """Der Direktraum mit der Person: der bekannte, solange sie darin ist, sonst ein neuer.

        Erst wird die Absicht mit ihrer Kennung festgeschrieben, dann der Raum mit der Kennung
        angelegt, dann seine ID vermerkt. Steht eine Absicht ohne Raum da (Absturz oder
        verlorene Antwort beim Anlegen), wird erst nach der Kennung gesucht.
        """
        async with self._sitzungen() as sitzung:
            eintrag = await aktiver_direktraum(sitzung, matrix_id)
        if eintrag is not None and eintrag.raum_id is None:
            gefunden = await self._transport.finde_direktraum(eintrag.kennung)
            if gefunden is None:
                return await self._lege_direktraum_an(matrix_id, eintrag.id, eintrag.kennung)
            log.info("Direktraum mit %s wiedergefunden: %s", matrix_id, gefunden)
            async with self._sitzungen.begin() as sitzung:
                await vermerke_raum(sitzung, eintrag.id, gefunden)
            eintrag.raum_id = gefunden
        if eintrag is not None and eintrag.raum_id is not None:
            if await self._ist_darin(eintrag.raum_id, matrix_id):
                return eintrag.raum_id, eintrag.id
            await self._gib_direktraum_auf(eintrag.id, eintrag.raum_id, f"{matrix_id} ist gegangen")
        try:
            async with self._sitzungen.begin() as sitzung:
                absicht = await beabsichtige_direktraum(sitzung, matrix_id)
        except IntegrityError as gleichzeitig:
            # Eben hat jemand anderes einen eingetragen (die Person selbst hat einen geöffnet):
            # beim nächsten Versuch gilt der.
            raise VoruebergehenderFehler(
                f"Direktraum mit {matrix_id} eben eingetragen"
            ) from gleichzeitig
        return await self._lege_direktraum_an(matrix_id, absicht.id, absicht.kennung)

    async def _lege_direktraum_an(
        self, matrix_id: str, direktraum_id: int, kennung: str
    ) -> tuple[str, int]:
        raum_id = await self._transport.erstelle_direktraum(matrix_id, kennung)
        log.info("Direktraum mit %s angelegt: %s", matrix_id, raum_id)
        async with self._sitzungen.begin() as sitzung:
            await vermerke_raum(sitzung, direktraum_id, raum_id)
        return raum_id, direktraum_id

    async def _ist_darin(self, raum_id: str, matrix_id: str) -> bool:
        """Ob die Person noch im Raum ist (oder eingeladen) – und der Bot ihn noch sieht."""
        try:
            mitglied = await self._transport.mitgliedschaft(raum_id, matrix_id)
        except NichtImRaum:
            return False
        return mitglied in ("join", "invite")

    async def _gib_direktraum_auf(self, direktraum_id: int, raum_id: str, grund: str) -> None:
        async with self._sitzungen.begin() as sitzung:
            await gib_direktraum_auf(sitzung, direktraum_id)
        log.info("Direktraum %s aufgegeben (%s); der Bot verlässt ihn", raum_id, grund)
        try:
            await self._transport.verlasse(raum_id)
        except Sendefehler as fehler:
            log.warning("Direktraum %s nicht verlassen: %s", raum_id, fehler)
