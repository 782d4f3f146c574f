"""Der laufende Bot: alle Teile an einer Stelle gebaut, verdrahtet und wieder geschlossen."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import signal
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from nio import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from befehle import alle_befehle
from befehle.grundlagen import Betrieb, Registratur
from bot.ausgang import Zusteller
from bot.config import Einstellungen, KonfigurationFehler, MatrixEinstellungen
from bot.drossel import Drossel
from bot.matrix import (
    NioTransport,
    Syncschleife,
    anmelden,
    lies_zustand,
    loese_raeume_auf,
    neuer_client,
    setze_zustand,
)
from bot.planer import Planer, Zeitplaner
from bot.verarbeitung import Verarbeitung
from modelle.datenbank import Sitzungsfabrik, erzeuge_engine, erzeuge_sitzungsfabrik
from modelle.migration import aktualisiere_schema
from modelle.struktur import importiere_struktur, lies_struktur
from modelle.tabellen import Raum
from modelle.zeitplan import Zeitplan

log = logging.getLogger(__name__)

STRUKTUR_PRUEFSUMME = "struktur.pruefsumme"


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

    @classmethod
    async def erzeuge(cls, einstellungen: Einstellungen) -> Klimabot:
        if einstellungen.matrix is None:
            raise KonfigurationFehler(["matrix: Abschnitt fehlt (homeserver, benutzer, passwort)"])
        matrix = einstellungen.matrix
        engine = erzeuge_engine(einstellungen.datenbank.url)
        try:
            await aktualisiere_schema(engine)
            sitzungen = erzeuge_sitzungsfabrik(engine)
            await uebernimm_strukturdatei(einstellungen, sitzungen)
            await setze_stabsstelle_raum(einstellungen.bot.stabsstelle_raum, sitzungen)
            client = neuer_client(matrix)
            try:
                await anmelden(client, matrix, sitzungen)
                await loese_raeume_auf(client, sitzungen)
            except BaseException:
                await client.close()
                raise
        except BaseException:
            await engine.dispose()
            raise
        zeitzone = ZoneInfo(einstellungen.bot.zeitzone)
        betrieb = betrieb_aus(einstellungen)
        transport = NioTransport(client)
        zusteller = Zusteller(sitzungen, transport)
        verarbeitung = Verarbeitung(
            sitzungen=sitzungen,
            registratur=Registratur(alle_befehle()),
            bot_id=matrix.benutzer,
            praefix=einstellungen.bot.befehlspraefix,
            zeitzone=zeitzone,
            betrieb=betrieb,
            nach_commit=zusteller.uebergib,
            # Für „Bitte später erneut versuchen“, wenn die Datenbank (samt Ausgangskorb) fehlt.
            transport=transport,
            drossel=Drossel(stoss=einstellungen.bot.flut_stoss or None),
        )
        sync = Syncschleife(client, matrix, sitzungen, verarbeitung)
        planer = Planer(
            sitzungen=sitzungen,
            zeitzone=zeitzone,
            betrieb=betrieb,
            praefix=einstellungen.bot.befehlspraefix,
            nach_commit=zusteller.wecken,
        )
        zeitplaner = Zeitplaner(planer, zeitzone)
        return cls(einstellungen, matrix, engine, sitzungen, client, zusteller, sync, zeitplaner)

    def anhalten(self) -> None:
        self.sync.anhalten()

    async def laufen(self) -> None:
        """Läuft bis `anhalten()`; stellt danach noch zu, was wartet, und schließt sauber."""
        zustellung = asyncio.create_task(self.zusteller.laufen(), name="zusteller")
        self.zeitplaner.starte()
        try:
            await self.sync.laufen()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.zusteller.zustellen(), timeout=10)
        finally:
            self.zeitplaner.stoppe()
            zustellung.cancel()
            with contextlib.suppress(asyncio.CancelledError):
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
