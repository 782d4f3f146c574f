"""Der laufende Bot: alle Teile an einer Stelle gebaut, verdrahtet und wieder geschlossen."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from nio import Api, AsyncClient, KeysUploadResponse, SyncResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from befehle import alle_befehle
from befehle.grundlagen import Befehl, Betrieb, Registratur
from bot.anmeldung import (
    SCHLUESSEL_GERAET,
    SYNC_POSITION,
    AnmeldungFehlgeschlagen,
    anmelden,
    behaupte_eigenes_geraet,
    erbe_bisheriges_geraet,
    instanzschluessel,
    neuer_client,
)
from bot.aufbewahrung import Aufbewahrung
from bot.bereitschaft import (
    AndereInstanzAktiv,
    Instanzsperre,
    SperreVerloren,
    bewache,
    sperre_fuer,
    werde_aktiv,
)
from bot.client import pflege_schluessel
from bot.config import Einstellungen, KonfigurationFehler, MatrixEinstellungen, dateien_des_bots
from bot.dashboard import Dashboardschreiber
from bot.drossel import Drossel
from bot.geheimnisse import schuetze_protokoll, zu_offene_dateien
from bot.metriken import Betriebsart, Metriken
from bot.niotransport import NioTransport
from bot.planer import Planer, Zeitplaner
from bot.raeume import Raumverwaltung
from bot.sync import ERSTER_SYNC_FILTER, Syncschleife
from bot.transport import Transport
from bot.verarbeitung import Verarbeitung
from bot.vertrauen import Schluesselvertrauen, Vertrauensregel
from bot.zusteller import Zusteller
from modelle.basis import jetzt
from modelle.datenbank import Sitzungsfabrik, erzeuge_engine, erzeuge_sitzungsfabrik
from modelle.migration import aktualisiere_schema_im_eigenen_prozess
from modelle.strukturdatei import lies_struktur
from modelle.strukturimport import importiere_struktur
from modelle.tabellen import Ausgang, Raum
from modelle.zeitplan import Zeitplan
from modelle.zustand import lies_zustand, setze_zustand

if TYPE_CHECKING:
    from bot.ueberwachung import Ueberwachung

log = logging.getLogger(__name__)

STRUKTUR_PRUEFSUMME = "struktur.pruefsumme"
# So oft prüft eine Bereitschaft, ob ihr Gerät noch genug Einmalschlüssel beim Homeserver hat.
EINMALSCHLUESSEL_PFLEGE_S = 300.0


class ZustellungAusgefallen(RuntimeError):
    """Die Sende-Aufgabe ist gestorben. Der Bot endet mit Fehler (`klimabot run`: Exit-Code 1),
    damit der Dienstverwalter ihn neu startet – statt halb weiterzulaufen: Ereignisse als
    behandelt zu vermerken, deren Antworten niemand sendet."""


async def uebernimm_strukturdatei(
    einstellungen: Einstellungen,
    sitzungen: Sitzungsfabrik,
    *,
    zeitpunkt: dt.datetime | None = None,
) -> None:
    """Importiert die konfigurierte Strukturdatei, wenn sie sich seit dem letzten Start änderte.

    `zeitpunkt` (Vorgabe: jetzt) ist der des Imports im Änderungsprotokoll (siehe
    `importiere_struktur`); die Demo datiert ihn zurück.
    """
    datei = einstellungen.bot.strukturdatei
    if datei is None:
        return
    struktur = lies_struktur(datei)  # wirft StrukturFehler mit allen Problemen
    pruefsumme = hashlib.sha256(datei.read_bytes()).hexdigest()
    async with sitzungen.begin() as sitzung:
        if await lies_zustand(sitzung, STRUKTUR_PRUEFSUMME) == pruefsumme:
            return
        bericht = await importiere_struktur(
            sitzung, struktur, f"klimabot run ({datei.name})", zeitpunkt=zeitpunkt
        )
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
    raum_belegt: Callable[[str], bool] = lambda _raum_id: False,
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
        raum_belegt=raum_belegt,
    )


def vertrauensregel_aus(matrix: MatrixEinstellungen) -> Vertrauensregel:
    return Vertrauensregel(
        auch_fuer=frozenset(matrix.raumschluessel_auch_fuer),
        nur_gegengezeichnet=matrix.nur_gegengezeichnete_geraete,
        neue_geraete_melden=matrix.neue_geraete_melden,
    )


def _ueberwachung(
    einstellungen: Einstellungen, metriken: Metriken, sitzungen: Sitzungsfabrik
) -> Ueberwachung:
    # Erst hier geladen: aiohttp.web (im Bot ~1,6 MB) braucht nur, wer /metrics und /ready
    # einschaltet.
    from bot.ueberwachung import Ueberwachung

    return Ueberwachung(einstellungen.ueberwachung, metriken, sitzungen)


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
    # Die Zähler dieses Bots; eine Bereitschaft zählt mit eigenen (`betriebsart` Bereitschaft).
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
            await aktualisiere_schema_im_eigenen_prozess(engine)
            sitzungen = erzeuge_sitzungsfabrik(engine)
            await uebernimm_strukturdatei(einstellungen, sitzungen)
            await setze_stabsstelle_raum(einstellungen.bot.stabsstelle_raum, sitzungen)
            client = neuer_client(matrix)
            instanz = einstellungen.instanz.name
            try:
                # Erst hier, unter der Instanzsperre: das Gerät einer älteren Fassung erbt
                # genau eine Instanz.
                await erbe_bisheriges_geraet(sitzungen, instanz)
                await anmelden(client, matrix, sitzungen, instanz)
                await behaupte_eigenes_geraet(sitzungen, instanz, client.device_id)
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
        zusteller = Zusteller(
            sitzungen, transport, metriken=metriken, schon_gesendet=transport.schon_gesendet
        )
        vertrauen.nach_commit = zusteller.wecken
        verarbeitung = baue_verarbeitung(
            einstellungen,
            sitzungen,
            bot_id=matrix.benutzer,
            nach_commit=zusteller.uebergib,
            transport=transport,
            metriken=metriken,
            raum_belegt=zusteller.raum_belegt,
        )
        raeume = Raumverwaltung(client, matrix, sitzungen)
        sync = Syncschleife(
            client,
            matrix,
            sitzungen,
            verarbeitung,
            raeume=raeume,
            vertrauen=vertrauen,
            instanz=einstellungen.instanz.name,
            metriken=metriken,
            antworten_abwarten=zusteller.abgesendet,
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
        dashboard = einstellungen.dashboard
        zeitplaner = Zeitplaner(
            planer,
            zeitzone,
            aufbewahrung,
            dashboard=(
                Dashboardschreiber(
                    dashboard, einstellungen.datenbank.url, einstellungen.bot.zeitzone
                )
                if dashboard.ordner is not None
                else None
            ),
        )
        ueberwachung = (
            _ueberwachung(einstellungen, metriken, sitzungen)
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

    async def laufen(self, sperre: Instanzsperre | None = None) -> None:
        """Läuft bis `anhalten()`; stellt danach noch zu, was wartet, und schließt sauber.

        Stirbt die Zustellung, hält der Bot sofort an und endet mit `ZustellungAusgefallen`.
        Geht die Instanzsperre verloren (`sperre`, siehe bot/bereitschaft.py), hält er sofort
        an, ohne noch etwas zuzustellen, und endet mit `SperreVerloren`: eine Bereitschaft
        übernimmt dann.
        """
        ausfall: list[BaseException] = []
        verloren: list[SperreVerloren] = []

        def wache_beendet(aufgabe: asyncio.Task[None]) -> None:
            if aufgabe.cancelled():
                return
            grund = aufgabe.exception()
            verloren.append(
                grund if isinstance(grund, SperreVerloren) else SperreVerloren(str(grund))
            )
            log.critical(
                "Instanzsperre verloren (%s); diese Instanz hält sofort an, eine Bereitschaft "
                "übernimmt",
                grund,
            )
            # Nichts mehr senden, nichts mehr planen: das tut gleich die übernehmende Instanz.
            zustellung.cancel()
            self.zeitplaner.stoppe()
            self.sync.anhalten()

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
        wache: asyncio.Task[None] | None = None
        if sperre is not None:
            wache = asyncio.create_task(bewache(sperre), name="instanzsperre")
            wache.add_done_callback(wache_beendet)
        self.zeitplaner.starte()
        try:
            await self.sync.laufen()
            if verloren:
                raise verloren[0]
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
            if wache is not None:
                wache.cancel()
            zustellung.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await zustellung
            await self.client.close()
            await self.engine.dispose()
            log.info("Klimabot beendet")


async def betreibe(einstellungen: Einstellungen) -> None:
    """`klimabot run`: läuft, bis SIGTERM oder SIGINT kommt, und endet dann sauber.

    Erst die Instanzsperre (bot/bereitschaft.py): hält eine andere Instanz sie, wartet diese
    in Bereitschaft – ohne Sync, Senden oder Zeitplan – und übernimmt, sobald sie frei wird.
    """
    matrix = einstellungen.matrix_fuer_den_betrieb()
    schuetze_protokoll(*einstellungen.geheimnisse())
    instanz = einstellungen.instanz
    sperre = sperre_fuer(einstellungen.datenbank.url, matrix.benutzer, instanz.name)
    schleife = asyncio.get_running_loop()
    halt = asyncio.Event()
    bot: Klimabot | None = None

    def anhalten() -> None:
        halt.set()
        if bot is not None:
            bot.anhalten()

    for signalnummer in (signal.SIGTERM, signal.SIGINT):
        schleife.add_signal_handler(signalnummer, anhalten)
    bereit: asyncio.Task[None] | None = None
    try:
        frei_seit = 0.0
        if sperre is not None:
            gewartet = await werde_aktiv(
                sperre,
                instanz=instanz.name,
                bereitschaft=instanz.bereitschaft,
                halt=halt,
                vorbereiten=lambda: bereitschaft_anmelden(einstellungen),
            )
            if gewartet is None:
                log.info("Bereitschaft von Instanz %s beendet", instanz.name)
                return
            frei_seit = gewartet
        beginn = time.monotonic() - frei_seit
        bot = await Klimabot.erzeuge(einstellungen)
        if halt.is_set():
            bot.anhalten()
        log.info(
            "Klimabot läuft als %s (Instanz %s, Gerät %s)",
            bot.matrix.benutzer,
            instanz.name,
            bot.client.device_id,
        )
        bereit = asyncio.create_task(
            _melde_bereit(bot, instanz.name, beginn if sperre is not None and frei_seit else None)
        )
        await bot.laufen(sperre)
    finally:
        if bereit is not None:
            bereit.cancel()
        for signalnummer in (signal.SIGTERM, signal.SIGINT):
            schleife.remove_signal_handler(signalnummer)
        if sperre is not None:
            await sperre.freigeben()


async def bereitschaft_anmelden(
    einstellungen: Einstellungen, *, pflegeabstand: float = EINMALSCHLUESSEL_PFLEGE_S
) -> None:
    """Die Bereitschaft meldet sich als ihr eigenes Gerät an, bevor sie gebraucht wird, und
    hält dessen Einmalschlüssel voll, bis sie abgebrochen wird (dann übernimmt sie).

    So kennen die Geräte der Personen sie schon und geben ihr die Raumschlüssel jeder neuen
    Nachricht mit (die To-Device-Nachrichten warten beim Homeserver, bis sie liest). Dafür
    lädt sie ihre Geräteschlüssel und Einmalschlüssel hoch und legt mit einem ersten Sync
    ihre eigene Sync-Position fest – ohne etwas zu behandeln; danach liest sie nichts mehr,
    bis sie übernimmt. Dann liest sie ab dieser Position und holt alles nach, was die
    aktive Instanz nicht mehr behandelt hat (bot/sync.py). Jedes Gerät einer Person, das ihr
    einen Schlüssel gibt, verbraucht einen Einmalschlüssel; ohne Sync erfährt nio das nicht,
    darum fragt sie alle `pflegeabstand` Sekunden selbst nach und lädt nach.
    """
    matrix = einstellungen.matrix_fuer_den_betrieb()
    instanz = einstellungen.instanz.name
    engine = erzeuge_engine(einstellungen.datenbank.url)
    sitzungen = erzeuge_sitzungsfabrik(engine)
    client = neuer_client(matrix)
    ueberwachung: Ueberwachung | None = None
    try:
        if einstellungen.ueberwachung.eingeschaltet:
            # /ready und /metrics sagen auch in Bereitschaft, was diese Instanz tut.
            metriken = Metriken()
            metriken.betriebsart = Betriebsart.BEREITSCHAFT
            kandidat = _ueberwachung(einstellungen, metriken, sitzungen)
            try:
                await kandidat.starte()
                ueberwachung = kandidat
            except KonfigurationFehler as fehler:
                log.warning("Überwachung der Bereitschaft nicht geöffnet (%s)", fehler)
        try:
            await _melde_bereitschaft_an(client, matrix, sitzungen, instanz)
        except AndereInstanzAktiv:
            raise
        except Exception as fehler:
            log.warning(
                "Anmeldung der Bereitschaft gescheitert (%s); sie meldet sich erst beim "
                "Übernehmen an und kann Nachrichten aus der Zeit davor in verschlüsselten "
                "Räumen nicht lesen",
                fehler,
            )
        else:
            while client.olm is not None:
                await asyncio.sleep(pflegeabstand)
                try:
                    nachgeladen = await fuelle_einmalschluessel(client)
                except Exception as fehler:
                    log.warning("Einmalschlüssel der Bereitschaft nicht geprüft (%s)", fehler)
                    continue
                if nachgeladen:
                    log.info("Bereitschaft: %d Einmalschlüssel nachgeladen", nachgeladen)
        await asyncio.Event().wait()  # bis zur Übernahme (dann abgebrochen)
    finally:
        if ueberwachung is not None:
            await ueberwachung.stoppe()
        await client.close()
        await engine.dispose()


async def _melde_bereitschaft_an(
    client: AsyncClient, matrix: MatrixEinstellungen, sitzungen: Sitzungsfabrik, instanz: str
) -> None:
    try:
        await anmelden(client, matrix, sitzungen, instanz)
        await behaupte_eigenes_geraet(sitzungen, instanz, client.device_id)
    except AnmeldungFehlgeschlagen as fehler:
        # Unmöglich, nicht vorübergehend: beim Übernehmen ginge es ebenso wenig.
        raise AndereInstanzAktiv(f"Bereitschaft nicht anmeldbar: {fehler}") from fehler
    if client.olm is not None and await pflege_schluessel(client):
        async with sitzungen.begin() as sitzung:
            await setze_zustand(
                sitzung, instanzschluessel(SCHLUESSEL_GERAET, instanz), client.device_id
            )
    async with sitzungen() as sitzung:
        position = await lies_zustand(sitzung, instanzschluessel(SYNC_POSITION, instanz))
    if position is None:
        antwort = await client.sync(timeout=0, sync_filter=ERSTER_SYNC_FILTER, full_state=True)
        if not isinstance(antwort, SyncResponse):
            raise RuntimeError(f"erster Sync abgelehnt: {antwort.message}")
        async with sitzungen.begin() as sitzung:
            await setze_zustand(
                sitzung, instanzschluessel(SYNC_POSITION, instanz), antwort.next_batch
            )
    log.info(
        "Bereitschaft angemeldet als Gerät %s (eigene Schlüssel beim Homeserver); "
        "sie liest erst wieder, wenn sie übernimmt",
        client.device_id,
    )


async def fuelle_einmalschluessel(client: AsyncClient) -> int:
    """Fragt, wie viele Einmalschlüssel des Geräts der Homeserver noch hat, und lädt nach,
    was fehlt; gibt zurück, wie viele."""
    methode, pfad, daten = Api.keys_upload(client.access_token, {})
    antwort = await client._send(KeysUploadResponse, methode, pfad, daten)
    if not isinstance(antwort, KeysUploadResponse):
        raise RuntimeError(f"Homeserver nennt die Einmalschlüssel nicht: {antwort.message}")
    vorher = int(antwort.signed_curve25519_count)
    if not client.should_upload_keys:
        return 0
    hochgeladen = await client.keys_upload()
    if not isinstance(hochgeladen, KeysUploadResponse):
        raise RuntimeError(f"Einmalschlüssel nicht hochgeladen: {hochgeladen.message}")
    return int(hochgeladen.signed_curve25519_count) - vorher


async def _melde_bereit(bot: Klimabot, instanz: str, uebernahme: float | None) -> None:
    await bot.sync.bereit.wait()
    if uebernahme is None:
        log.info("Instanz %s ist bereit und antwortet", instanz)
        return
    log.info(
        "Übernahme abgeschlossen: Instanz %s ist bereit und antwortet, %.1f s nachdem die "
        "Sperre frei wurde",
        instanz,
        time.monotonic() - uebernahme,
    )
