"""Der laufende Bot: alle Teile an einer Stelle gebaut, verdrahtet und wieder geschlossen."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from nio import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from befehle import alle_befehle
from befehle.grundlagen import Befehl, Betrieb, Registratur
from bot.anmeldung import anmelden, neuer_client
from bot.aufbewahrung import Aufbewahrung
from bot.config import Einstellungen, MatrixEinstellungen, dateien_des_bots
from bot.drossel import Drossel
from bot.geheimnisse import schuetze_protokoll, zu_offene_dateien
from bot.metriken import Metriken
from bot.niotransport import NioTransport
from bot.planer import Planer, Zeitplaner
from bot.raeume import Raumverwaltung
from bot.sync import Syncschleife
from bot.transport import Transport
from bot.ueberwachung import Ueberwachung
from bot.verarbeitung import Verarbeitung
from bot.vertrauen import Schluesselvertrauen, Vertrauensregel
from bot.zusteller import Zusteller
from modelle.basis import jetzt
from modelle.datenbank import Sitzungsfabrik, erzeuge_engine, erzeuge_sitzungsfabrik
from modelle.migration import aktualisiere_schema
from modelle.strukturdatei import lies_struktur
from modelle.strukturimport import importiere_struktur
from modelle.tabellen import Ausgang, Raum
from modelle.zeitplan import Zeitplan
from modelle.zustand import lies_zustand, setze_zustand

log = logging.getLogger(__name__)

STRUKTUR_PRUEFSUMME = "struktur.pruefsumme"


class ZustellungAusgefallen(RuntimeError):
    """Die Sende-Aufgabe ist gestorben. Der Bot endet mit Fehler (`klimabot run`: Exit-Code 1),
    damit der Dienstverwalter ihn neu startet – statt halb weiterzulaufen: Ereignisse als
    behandelt zu vermerken, deren Antworten niemand sendet."""


async def uebernimm_strukturdatei(einstellungen: Einstellungen, sitzungen: Sitzungsfabrik) -> None:
    """Importiert die konfigurierte Strukturdatei, wenn sie sich seit dem letzten Start änderte."""
    datei = einstellungen.bot.strukturdatei
    if datei is None:
        return
    struktur = lies_struktur(datei)  # wirft StrukturFehler mit allen Problemen
    pruefsumme = hashlib.sha256(datei.read_bytes()).hexdigest()
    async with sitzungen.begin() as sitzung:
        if await lies_zustand(sitzung, STRUKTUR_PRUEFSUMME) == pruefsumme:
            return
        bericht = await importiere_struktur(sitzung, struktur, f"klimabot run ({datei.name})")
        await setze_zustand(sitzung, STRUKTUR_PRUEFSUMME, pruefsumme)
    log.info("Strukturdatei %s übernommen: %s", datei, bericht.zusammenfassung().splitlines()[0])


async def setze_stabsstelle_raum(adresse: str | None, sitzungen: Sitzungsfabrik) -> None:
    async with sitzungen.begin() as sitzung:
        raum = await sitzung.scalar(select(Raum).where(Raum.ist_stabsstelle.is_(True)))
        if adresse is None:
            if raum is not None:
                await sitzung.delete(raum)
            return
        if raum is None:
            sitzung.add(Raum(adresse=adresse, ist_stabsstelle=True))
        elif raum.adresse != adresse:
            raum.adresse, raum.raum_id = adresse, None


def betrieb_aus(einstellungen: Einstellungen) -> Betrieb:
    zeitplan = einstellungen.zeitplan
    return Betrieb(
        abfrage=Zeitplan.aus_text(zeitplan.abfrage),
        wochenbericht=Zeitplan.aus_text(zeitplan.wochenbericht),
        erinnerung=Zeitplan.aus_text(zeitplan.erinnerung),
        nachholfrist=dt.timedelta(hours=zeitplan.nachholfrist_stunden),
    )


def baue_verarbeitung(
    einstellungen: Einstellungen,
    sitzungen: Sitzungsfabrik,
    *,
    bot_id: str,
    nach_commit: Callable[[Sequence[Ausgang]], None] = lambda _eintraege: None,
    transport: Transport | None = None,
    befehle: Sequence[Befehl[Any]] | None = None,
    geduld: float = 30.0,
    uhr: Callable[[], dt.datetime] = jetzt,
    metriken: Metriken | None = None,
) -> Verarbeitung:
    """Die Verarbeitung, wie `klimabot run` sie betreibt: alle Befehle, Präfix, Zeitzone,
    Zeitplan und Flutgrenze aus den Einstellungen. Tests und Messungen bauen sie hier ebenso
    und geben nur anders vor, was sie prüfen: `befehle` (Vorgabe: `alle_befehle()`), `geduld`
    und `uhr` (siehe `Verarbeitung`). Ohne `transport` geht der Hinweis „Bitte später erneut
    versuchen“ bei einem Datenbankausfall nur ins Protokoll – er wird direkt gesendet, weil
    der Ausgangskorb in der Datenbank liegt."""
    return Verarbeitung(
        sitzungen=sitzungen,
        registratur=Registratur(list(alle_befehle() if befehle is None else befehle)),
        bot_id=bot_id,
        praefix=einstellungen.bot.befehlspraefix,
        zeitzone=ZoneInfo(einstellungen.bot.zeitzone),
        betrieb=betrieb_aus(einstellungen),
        nach_commit=nach_commit,
        transport=transport,
        geduld=geduld,
        uhr=uhr,
        drossel=Drossel(stoss=einstellungen.bot.flut_stoss or None),
        metriken=metriken,
    )


def vertrauensregel_aus(matrix: MatrixEinstellungen) -> Vertrauensregel:
    return Vertrauensregel(
        auch_fuer=frozenset(matrix.raumschluessel_auch_fuer),
        nur_gegengezeichnet=matrix.nur_gegengezeichnete_geraete,
        neue_geraete_melden=matrix.neue_geraete_melden,
    )


@dataclass
class Klimabot:
    einstellungen: Einstellungen
    matrix: MatrixEinstellungen
    engine: AsyncEngine
    sitzungen: Sitzungsfabrik
    client: AsyncClient
    zusteller: Zusteller
    sync: Syncschleife
    zeitplaner: Zeitplaner
    raeume: Raumverwaltung
    # Die Zähler dieses Bots; die Bereitschaft stellt hier `metriken.betriebsart` um.
    metriken: Metriken = field(default_factory=Metriken)
    # Der HTTP-Zugang /health, /ready, /metrics – nur, wenn eingeschaltet.
    ueberwachung: Ueberwachung | None = None

    @classmethod
    async def erzeuge(cls, einstellungen: Einstellungen) -> Klimabot:
        matrix = einstellungen.matrix_fuer_den_betrieb()
        # Auch eingebettet (Tests, Demo) und vor der ersten Zeile, die ein Geheimnis enthalten
        # könnte; die CLI richtet es schon beim Start ein.
        schuetze_protokoll(*einstellungen.geheimnisse())
        for warnung in zu_offene_dateien(dateien_des_bots(einstellungen)):
            log.warning(warnung)
        engine = erzeuge_engine(einstellungen.datenbank.url)
        try:
            await aktualisiere_schema(engine)
            sitzungen = erzeuge_sitzungsfabrik(engine)
            await uebernimm_strukturdatei(einstellungen, sitzungen)
            await setze_stabsstelle_raum(einstellungen.bot.stabsstelle_raum, sitzungen)
            client = neuer_client(matrix)
            try:
                await anmelden(client, matrix, sitzungen)
            except BaseException:
                await client.close()
                raise
        except BaseException:
            await engine.dispose()
            raise
        zeitzone = ZoneInfo(einstellungen.bot.zeitzone)
        betrieb = betrieb_aus(einstellungen)
        vertrauen = Schluesselvertrauen(sitzungen, vertrauensregel_aus(matrix))
        transport = NioTransport(client, vertrauen)
        metriken = Metriken()
        zusteller = Zusteller(sitzungen, transport, metriken=metriken)
        vertrauen.nach_commit = zusteller.wecken
        verarbeitung = baue_verarbeitung(
            einstellungen,
            sitzungen,
            bot_id=matrix.benutzer,
            nach_commit=zusteller.uebergib,
            transport=transport,
            metriken=metriken,
        )
        raeume = Raumverwaltung(client, matrix, sitzungen)
        sync = Syncschleife(
            client,
            matrix,
            sitzungen,
            verarbeitung,
            raeume=raeume,
            vertrauen=vertrauen,
            metriken=metriken,
        )
        planer = Planer(
            sitzungen=sitzungen,
            zeitzone=zeitzone,
            betrieb=betrieb,
            praefix=einstellungen.bot.befehlspraefix,
            nach_commit=zusteller.wecken,
            metriken=metriken,
        )
        aufbewahrung = Aufbewahrung(
            sitzungen, tage=einstellungen.bot.aufbewahrung_tage, bereit=sync.bereit.is_set
        )
        zeitplaner = Zeitplaner(planer, zeitzone, aufbewahrung)
        ueberwachung = (
            Ueberwachung(einstellungen.ueberwachung, metriken, sitzungen)
            if einstellungen.ueberwachung.eingeschaltet
            else None
        )
        return cls(
            einstellungen,
            matrix,
            engine,
            sitzungen,
            client,
            zusteller,
            sync,
            zeitplaner,
            raeume,
            metriken,
            ueberwachung,
        )

    def anhalten(self) -> None:
        self.sync.anhalten()

    async def laufen(self) -> None:
        """Läuft bis `anhalten()`; stellt danach noch zu, was wartet, und schließt sauber.

        Stirbt die Zustellung, hält der Bot sofort an und endet mit `ZustellungAusgefallen`.
        """
        ausfall: list[BaseException] = []

        def zustellung_beendet(aufgabe: asyncio.Task[None]) -> None:
            if aufgabe.cancelled():
                return
            grund = aufgabe.exception() or RuntimeError("Zusteller endete ohne Grund")
            ausfall.append(grund)
            log.critical(
                "Zustellung ausgefallen (%s: %s); der Bot hält an und endet mit Fehler, "
                "damit er neu gestartet wird",
                type(grund).__name__,
                grund,
                exc_info=grund,
            )
            self.sync.anhalten()

        if self.ueberwachung is not None:
            try:
                # Zuerst: ist ihr Port belegt, endet der Bot, bevor er irgendetwas tut.
                await self.ueberwachung.starte()
            except BaseException:
                await self.client.close()
                await self.engine.dispose()
                raise
        zustellung = asyncio.create_task(self.zusteller.laufen(), name="zusteller")
        zustellung.add_done_callback(zustellung_beendet)
        self.zeitplaner.starte()
        try:
            await self.sync.laufen()
            if ausfall:
                raise ZustellungAusgefallen(str(ausfall[0])) from ausfall[0]
            zustellung.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await zustellung
            # Was noch wartet, bekommt einen letzten Versuch (ohne Pausen, höchstens 10 s).
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.zusteller.zustellen(), timeout=10)
        finally:
            if self.ueberwachung is not None:
                await self.ueberwachung.stoppe()
            self.zeitplaner.stoppe()
            zustellung.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await zustellung
            await self.client.close()
            await self.engine.dispose()
            log.info("Klimabot beendet")


async def betreibe(einstellungen: Einstellungen) -> None:
    """`klimabot run`: läuft, bis SIGTERM oder SIGINT kommt, und endet dann sauber."""
    bot = await Klimabot.erzeuge(einstellungen)
    schleife = asyncio.get_running_loop()
    for signalnummer in (signal.SIGTERM, signal.SIGINT):
        schleife.add_signal_handler(signalnummer, bot.anhalten)
    log.info("Klimabot läuft als %s (Gerät %s)", bot.matrix.benutzer, bot.client.device_id)
    try:
        await bot.laufen()
    finally:
        for signalnummer in (signal.SIGTERM, signal.SIGINT):
            schleife.remove_signal_handler(signalnummer)
