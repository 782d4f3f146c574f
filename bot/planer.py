"""Geplantes: Abfragen, Wochenbericht und Erinnerungen.

APScheduler weckt jede Minute (und gleich nach dem Start); was fällig ist, entscheidet die
Tabelle `versand` (`modelle.versand`), nicht das Gedächtnis des Schedulers. Darum geht
nach einem Ausfall nichts verloren und nichts kommt doppelt: Je Fälligkeit wird in
einer Transaktion der Vermerk gesetzt und die Nachricht in den Ausgangskorb gelegt.

Alles Geplante soll Menschen erreichen, anders als Antworten auf Befehle: Sein Kopf
benachrichtigt die darin Erwähnten (`_reihe_ein`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from befehle.abfrage import abfrage_kopf, abfrage_zeile, erinnerung, erinnerung_direkt
from befehle.bericht import wochenbericht_antwort
from befehle.grundlagen import Antwort, Betrieb, Folge
from bot.aufbewahrung import MINUTE as AUFRAEUMEN_MINUTE
from bot.aufbewahrung import STUNDE as AUFRAEUMEN_STUNDE
from bot.aufbewahrung import Aufbewahrung
from bot.ausgang import direktraum, reihe_antwort_ein, verweis
from bot.dashboard import Dashboardschreiber
from bot.metriken import Metriken
from modelle.basis import jetzt as uhrzeit_jetzt
from modelle.datenbank import Sitzungsfabrik
from modelle.stand import letzte_meldungen, projektstand
from modelle.tabellen import Versandstatus
from modelle.versand import (
    Faelligkeit,
    faellige_abfragen,
    faellige_erinnerungen,
    faelliger_wochenbericht,
    reserviere,
    vermerke_event,
)
from modelle.verzeichnis import FeldEintrag, VerzeichnisSpeicher
from modelle.werte import Rolle

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Warten:
    """Jetzt nicht senden, aber nicht auslassen: nächste Minute erneut, bis zur Nachholfrist."""

    grund: str


NICHT_IM_RAUM = Warten("der Bot ist (noch) nicht im Raum; er wartet auf eine Einladung")


def _raum(feld: FeldEintrag) -> str | Warten | None:
    """Der Raum des Felds – nur wenn der Bot darin ist; sonst warten oder (ohne Raum) nichts."""
    if feld.raum_id:
        return feld.raum_id
    return NICHT_IM_RAUM if feld.raum_adresse else None


class Planer:
    def __init__(
        self,
        *,
        sitzungen: Sitzungsfabrik,
        zeitzone: ZoneInfo,
        betrieb: Betrieb,
        praefix: str,
        nach_commit: Callable[[], None] = lambda: None,
        uhr: Callable[[], dt.datetime] = uhrzeit_jetzt,
        metriken: Metriken | None = None,
    ) -> None:
        self._sitzungen = sitzungen
        self._metriken = Metriken() if metriken is None else metriken
        # Eingereiht in der laufenden Transaktion; gezählt wird erst nach ihrem Commit.
        self._eingereiht: list[str] = []
        self._zeitzone = zeitzone
        self._betrieb = betrieb
        self._praefix = praefix
        self._nach_commit = nach_commit
        self._uhr = uhr
        # Je Fälligkeit wird nachgesehen; neu geladen nur nach einer Strukturänderung.
        self._verzeichnis = VerzeichnisSpeicher()
        # Fälligkeiten, deren Warten schon im Protokoll steht (einmal, nicht jede Minute).
        self._wartend: set[str] = set()

    async def pruefe(self) -> None:
        """Ein Durchgang: alles Fällige genau einmal einreihen."""
        jetzt = self._uhr()
        self._eingereiht.clear()
        await self._abfragen(jetzt)
        await self._wochenbericht(jetzt)
        await self._erinnerungen(jetzt)
        self._nach_commit()

    async def pruefe_sicher(self) -> None:
        """Für den Scheduler: ein Fehler darf das nächste Wecken nicht verhindern."""
        try:
            await self.pruefe()
        except (OperationalError, InterfaceError) as fehler:
            self._metriken.datenbank_nicht_erreichbar("planer")
            log.warning(
                "Zeitplan: Datenbank nicht erreichbar (%s); nächster Versuch in 1 min", fehler
            )
        except Exception:
            log.exception("Zeitplan: Fehler bei der Prüfung; nächster Versuch in 1 min")

    async def _ueberspringe(self, faelligkeit: Faelligkeit, grund: str) -> None:
        async with self._sitzungen.begin() as sitzung:
            ausgelassen = await reserviere(sitzung, faelligkeit, Versandstatus.UEBERSPRUNGEN)
        if ausgelassen:
            self._metriken.geplant_ausgelassen(faelligkeit.art.value)
            log.warning(
                "%s ausgelassen (%s): %s", faelligkeit.schluessel, grund, faelligkeit.termin
            )

    def _zaehle_eingereihte(self) -> None:
        """Nach einem Commit: was darin eingereiht wurde, zählt."""
        for art in self._eingereiht:
            self._metriken.geplant_eingereiht(art)
        self._eingereiht.clear()

    async def _reihe_ein(
        self, sitzung: AsyncSession, faelligkeit: Faelligkeit, raum: str, antwort: Antwort
    ) -> None:
        """Reiht Geplantes ein und vermerkt die vorläufige Event-ID (der Zusteller setzt die echte).

        Die eine Stelle, die festlegt, dass Geplantes benachrichtigt: Abfrage, Erinnerung und
        Wochenbericht sind dafür da, dass die Erwähnten sie bemerken – auch auf dem Telefon.
        """
        eintrag = reihe_antwort_ein(sitzung, raum, antwort, benachrichtigen=True)
        if eintrag is not None:
            await vermerke_event(sitzung, faelligkeit.schluessel, verweis(eintrag), raum)
            self._eingereiht.append(faelligkeit.art.value)

    async def _bediene(
        self,
        faellige: list[Faelligkeit],
        senden: Callable[[AsyncSession, Faelligkeit], Awaitable[str | Warten | None]],
    ) -> None:
        """Je Fälligkeit eine Transaktion: senden – oder, wenn das nicht geht, auslassen.

        `senden` reserviert und reiht ein; es gibt den Grund zurück, falls es nicht senden
        kann. Ausgelassenes wird einmal vermerkt (und im Wochenbericht genannt), statt jede
        Minute erneut zu scheitern. Ein `Warten` (der Bot ist noch nicht im Raum) lässt nichts
        aus: die nächste Minute versucht es erneut, bis die Nachholfrist vorbei ist.
        """
        for faelligkeit in faellige:
            grund: str | Warten | None = (
                "Nachholfrist überschritten" if faelligkeit.ueberspringen else None
            )
            if grund is None:
                async with self._sitzungen.begin() as sitzung:
                    grund = await senden(sitzung, faelligkeit)
                self._zaehle_eingereihte()
            if isinstance(grund, Warten):
                if faelligkeit.schluessel not in self._wartend:
                    self._wartend.add(faelligkeit.schluessel)
                    log.warning("%s wartet: %s", faelligkeit.schluessel, grund.grund)
            elif grund is not None:
                await self._ueberspringe(faelligkeit, grund)

    async def _abfragen(self, jetzt: dt.datetime) -> None:
        async with self._sitzungen() as sitzung:
            faellige = await faellige_abfragen(
                sitzung,
                jetzt=jetzt,
                zeitzone=self._zeitzone,
                standard=self._betrieb.abfrage,
                nachholfrist=self._betrieb.nachholfrist,
            )

        async def senden(sitzung: AsyncSession, faelligkeit: Faelligkeit) -> str | Warten | None:
            verzeichnis = await self._verzeichnis.hole(sitzung)
            feld = verzeichnis.feld(faelligkeit.themenfeld_id or 0)
            raum = _raum(feld) if feld else None
            if feld is None or raum is None:
                return "Themenfeld ohne bekannten Raum"
            if isinstance(raum, Warten):
                return raum
            if not await reserviere(sitzung, faelligkeit):
                return None
            staende = await letzte_meldungen(sitzung, feld.id)
            zustaendige = [
                *verzeichnis.personen_mit(Rolle.PATIN, feld.id),
                *verzeichnis.personen_mit(Rolle.KOORDINATION, feld.id),
            ]
            kopf = abfrage_kopf(
                feld, zustaendige, praefix=self._praefix, verspaetet=faelligkeit.verspaetet
            )
            zeilen = tuple(
                Folge(abfrage_zeile(s, jetzt, self._zeitzone), projekte=(s.projekt_slug,))
                for s in staende
            )
            await self._reihe_ein(sitzung, faelligkeit, raum, Antwort(kopf, thread=zeilen))
            log.info("Abfrage für %s eingereiht (%d Projekte)", feld.slug, len(staende))
            return None

        await self._bediene(faellige, senden)

    async def _wochenbericht(self, jetzt: dt.datetime) -> None:
        async with self._sitzungen() as sitzung:
            faellige = await faelliger_wochenbericht(
                sitzung,
                jetzt=jetzt,
                zeitzone=self._zeitzone,
                zeitplan=self._betrieb.wochenbericht,
                nachholfrist=self._betrieb.nachholfrist,
            )

        async def senden(sitzung: AsyncSession, faelligkeit: Faelligkeit) -> str | Warten | None:
            verzeichnis = await self._verzeichnis.hole(sitzung)
            raum = verzeichnis.stabsstelle_raum_id
            if raum is None and verzeichnis.stabsstelle_raum_adresse is not None:
                return NICHT_IM_RAUM
            if raum is None:
                return "kein Raum der Stabsstelle bekannt (bot.stabsstelle_raum)"
            # Erst zusammenstellen, dann vermerken: der Bericht beginnt beim letzten Vermerk.
            antwort = await wochenbericht_antwort(
                sitzung,
                bis=jetzt,
                zeitzone=self._zeitzone,
                verspaetet=faelligkeit.verspaetet,
                an=verzeichnis.personen_mit(Rolle.STABSSTELLE),
            )
            if await reserviere(sitzung, faelligkeit):
                await self._reihe_ein(sitzung, faelligkeit, raum, antwort)
                log.info("Wochenbericht eingereiht")
            return None

        await self._bediene(faellige, senden)

    async def _erinnerungen(self, jetzt: dt.datetime) -> None:
        async with self._sitzungen() as sitzung:
            faellige = await faellige_erinnerungen(
                sitzung,
                jetzt=jetzt,
                zeitzone=self._zeitzone,
                zeitplan=self._betrieb.erinnerung,
                nachholfrist=self._betrieb.nachholfrist,
            )
        for faellig in faellige:
            async with self._sitzungen.begin() as sitzung:
                verzeichnis = await self._verzeichnis.hole(sitzung)
                feld = verzeichnis.feld(faellig.projekt.themenfeld_id)
                stand = await projektstand(sitzung, faellig.projekt.projekt_id)
                if feld is None or stand is None:
                    continue
                if faellig.direktnachricht and faellig.patin is not None:
                    raum: str | None = direktraum(faellig.patin.matrix_id)
                    nachricht = erinnerung_direkt(
                        stand, feld, faellig.patin, jetzt=jetzt, zeitzone=self._zeitzone
                    )
                else:
                    im_raum = _raum(feld)
                    raum = faellig.projekt.raum_id or (
                        im_raum if isinstance(im_raum, str) else None
                    )
                    nachricht = erinnerung(
                        stand,
                        faellig.zustaendige,
                        jetzt=jetzt,
                        zeitzone=self._zeitzone,
                        nummer=faellig.stufe,
                    )
                if raum is None or not await reserviere(sitzung, faellig.faelligkeit):
                    continue
                antwort = Antwort(nachricht, projekte=(stand.projekt_slug,))
                await self._reihe_ein(sitzung, faellig.faelligkeit, raum, antwort)
                log.info("Erinnerung %d für %s eingereiht", faellig.stufe, stand.projekt_slug)
            self._zaehle_eingereihte()


class Zeitplaner:
    """Besitzt den APScheduler: weckt den Planer jede volle Minute und gleich beim Start,
    und räumt einmal am Tag zur stillen Zeit auf (`bot.aufbewahrung`)."""

    def __init__(
        self,
        planer: Planer,
        zeitzone: ZoneInfo,
        aufbewahrung: Aufbewahrung | None = None,
        dashboard: Dashboardschreiber | None = None,
    ) -> None:
        """`dashboard`: der Schreiber des Klimadashboards (`[dashboard]`, mit Zeitplan); geschrieben
        wird auch gleich beim Start, damit die Seite nach einem Update nicht bis zum nächsten
        Termin veraltet."""
        self._planer = planer
        self._zeitzone = zeitzone
        self._aufbewahrung = aufbewahrung
        self._dashboard = dashboard
        self._scheduler = AsyncIOScheduler(timezone=zeitzone)

    def starte(self) -> None:
        self._scheduler.add_job(
            self._planer.pruefe_sicher,
            CronTrigger(second=0, timezone=self._zeitzone),
            id="faelliges",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=50,
            next_run_time=dt.datetime.now(self._zeitzone),
        )
        if self._aufbewahrung is not None:
            self._scheduler.add_job(
                self._aufbewahrung.raeume_auf_sicher,
                CronTrigger(
                    hour=AUFRAEUMEN_STUNDE, minute=AUFRAEUMEN_MINUTE, timezone=self._zeitzone
                ),
                id="aufraeumen",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=3600,
            )
        if self._dashboard is not None:
            self._scheduler.add_job(
                self._dashboard.schreibe_sicher,
                CronTrigger(**self._dashboard.zeitplan.trigger_felder(), timezone=self._zeitzone),
                id="dashboard",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=3600,
                next_run_time=dt.datetime.now(self._zeitzone),
            )
        self._scheduler.start()

    def stoppe(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
