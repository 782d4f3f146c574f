"""Anmeldung beim Homeserver mit einem festen Gerät: den Client bauen, das Zugangstoken
verschlüsselt ablegen und wiederverwenden, einen verlorenen Schlüsselspeicher erkennen."""

from __future__ import annotations

import asyncio
import logging

from nio import AsyncClient, AsyncClientConfig, LoginResponse, WhoamiResponse
from nio.store import SqliteStore

from bot.client import KlimabotClient
from bot.config import MatrixEinstellungen
from bot.geheimnisse import (
    NichtEntschluesselbar,
    entschluessele,
    ist_verschluesselt,
    lege_ordner_an,
    merke_geheimnisse,
    verschluessele,
)
from modelle.datenbank import Sitzungsfabrik, tilge_ueberschriebenes
from modelle.zustand import (
    lies_zustand,
    loesche_zustand,
    setze_zustand,
    zustaende_mit_praefix,
)

log = logging.getLogger(__name__)

# Verschlüsselt (`bot.geheimnisse`); ältere Fassungen schrieben es im Klartext.
ZUGANGSTOKEN = "matrix.zugangstoken"
GERAET = "matrix.geraet"
BENUTZER = "matrix.benutzer"
# Das Gerät, dessen Schlüssel beim Homeserver liegen (nach dem ersten Hochladen gesetzt).
SCHLUESSEL_GERAET = "matrix.schluessel_geraet"
# Bis wohin dieses Gerät gelesen hat (bot/sync.py). Je Gerät, nicht je Konto: die
# Raumschlüssel kommen als To-Device-Nachrichten, und deren Position steckt mit im Token.
SYNC_POSITION = "matrix.sync_position"
# Was jedes Gerät für sich hat; jede Instanz (bot/bereitschaft.py) ist ein eigenes Gerät.
GERAETEZUSTAND = (ZUGANGSTOKEN, GERAET, BENUTZER, SCHLUESSEL_GERAET, SYNC_POSITION)


def instanzschluessel(schluessel: str, instanz: str | None) -> str:
    """Der Zustand-Schlüssel des Geräts einer Instanz: `matrix.geraet@rechner-a`.

    Ohne Instanz der gemeinsame Schlüssel (eingebettete Bots in Tests, ältere Fassungen).
    """
    return schluessel if instanz is None else f"{schluessel}@{instanz}"


async def behaupte_eigenes_geraet(sitzungen: Sitzungsfabrik, instanz: str, geraet: str) -> None:
    """Vermerkt das Gerät dieser Instanz; gehört es schon einer anderen, endet der Start.

    Zwei Instanzen als ein Gerät teilten sich Einmalschlüssel und Raumschlüssel – genau das,
    was Instanzen verhindern sollen. So kann es nur mit einem konfigurierten Zugangstoken
    kommen (ein Token gehört zu einem Gerät): dann braucht jede Instanz ihr eigenes.
    """
    async with sitzungen.begin() as sitzung:
        andere = {
            schluessel.partition("@")[2]
            for schluessel, wert in (await zustaende_mit_praefix(sitzung, f"{GERAET}@")).items()
            if wert == geraet and schluessel != instanzschluessel(GERAET, instanz)
        }
        if not andere:
            await setze_zustand(sitzung, instanzschluessel(GERAET, instanz), geraet)
    if andere:
        raise AnmeldungFehlgeschlagen(
            f"Gerät {geraet} gehört schon Instanz {', '.join(sorted(andere))}; zwei Instanzen "
            "dürfen nie dasselbe Gerät sein. Jede Instanz braucht ihr eigenes Zugangstoken "
            "(oder das Passwort, dann meldet sie sich als eigenes Gerät an)."
        )


async def erbe_bisheriges_geraet(sitzungen: Sitzungsfabrik, instanz: str) -> None:
    """Eine ältere Fassung kannte nur ein Gerät je Konto: die erste aktive Instanz übernimmt
    es samt Token und Sync-Position, statt ein neues anzulegen. Nur wer die Instanzsperre
    hält, darf das – sonst liefen zwei Prozesse als dasselbe Gerät."""
    async with sitzungen.begin() as sitzung:
        if await lies_zustand(sitzung, instanzschluessel(GERAET, instanz)) is not None:
            return
        bisher = await lies_zustand(sitzung, GERAET)
        if bisher is None:
            return
        for schluessel in GERAETEZUSTAND:
            wert = await lies_zustand(sitzung, schluessel)
            if wert is not None:
                await setze_zustand(sitzung, instanzschluessel(schluessel, instanz), wert)
                await loesche_zustand(sitzung, schluessel)
    log.info("Instanz %s übernimmt das bisherige Gerät %s des Bots", instanz, bisher)


class AnmeldungFehlgeschlagen(Exception):
    """Die Anmeldung ist unmöglich (falsches Passwort, Token eines anderen Kontos)."""


def neuer_client(einstellungen: MatrixEinstellungen) -> AsyncClient:
    """Der Client des Bots (`KlimabotClient`), mit Schlüsselspeicher, wenn verschlüsselt wird."""
    passwort = einstellungen.schluesselpasswort
    konfiguration = AsyncClientConfig(
        # nio wartet nie selbst auf Ratenlimits oder Netzfehler (sonst stünde die Sync-Schleife
        # still); das übernehmen die Schleife (`bot.sync`) und der Zusteller (`bot.zusteller`).
        max_limit_exceeded=0,
        max_timeouts=0,
        request_timeout=90,
        encryption_enabled=einstellungen.verschluesselung,
        # SqliteStore hält auch die Vertrauensstufen der Geräte in der Datenbank (nicht wie
        # nios Vorgabe in Klartextdateien daneben).
        store=SqliteStore,
        pickle_key=passwort.get_secret_value() if passwort is not None else "",
    )
    speicher = ""
    if einstellungen.verschluesselung and einstellungen.schluesselspeicher is not None:
        lege_ordner_an(einstellungen.schluesselspeicher)  # nio legt ihn nicht an; nur für den Bot
        speicher = str(einstellungen.schluesselspeicher)
    return KlimabotClient(
        einstellungen.homeserver, einstellungen.benutzer, store_path=speicher, config=konfiguration
    )


def _speicher_fehlt(client: AsyncClient, einstellungen: MatrixEinstellungen, geraet: str) -> bool:
    """Ob der Schlüsselspeicher dieses Geräts fehlt (dann darf das Gerät nicht weiterlaufen)."""
    if not einstellungen.verschluesselung or einstellungen.schluesselspeicher is None:
        return False
    return not (einstellungen.schluesselspeicher / f"{client.user}_{geraet}.db").exists()


async def anmelden(
    client: AsyncClient,
    einstellungen: MatrixEinstellungen,
    sitzungen: Sitzungsfabrik,
    instanz: str | None = None,
) -> None:
    """Meldet den Bot an und behält sein Gerät über Neustarts (nie ein neues Gerät je Start).

    Mit Verschlüsselung lädt die Anmeldung auch den Schlüsselspeicher des Geräts. Hatte das
    Gerät schon Schlüssel und der Speicher ist verloren, wäre das Gerät für alle anderen
    kaputt (andere Schlüssel unter derselben Geräte-ID): dann meldet sich der Bot als neues
    Gerät an und sagt das laut.

    Das Zugangstoken liegt nur verschlüsselt in der Datenbank (`tresorpasswort`). Ein
    Klartext-Token einer älteren Fassung wird noch benutzt, verschlüsselt neu geschrieben und
    samt Resten getilgt. Ist das gespeicherte nicht zu entschlüsseln (Passwort geändert),
    meldet sich der Bot mit dem Passwort neu an – als dasselbe Gerät. Mit konfiguriertem
    Zugangstoken speichert er keines.

    Mit `instanz` hat jede Instanz ihr eigenes Gerät (Token, Gerät, Sync-Position unter
    `instanzschluessel`); nios Schlüsselspeicher trennt die Geräte ohnehin (eine Datei je Gerät).
    """
    async with sitzungen() as sitzung:
        gespeichert = await lies_zustand(sitzung, instanzschluessel(ZUGANGSTOKEN, instanz))
        geraet = await lies_zustand(sitzung, instanzschluessel(GERAET, instanz))
        benutzer = await lies_zustand(sitzung, instanzschluessel(BENUTZER, instanz))
        verschluesselt_als = await lies_zustand(
            sitzung, instanzschluessel(SCHLUESSEL_GERAET, instanz)
        )
    klartext = gespeichert is not None and not ist_verschluesselt(gespeichert)
    tresor = tresorpasswort(einstellungen)
    if einstellungen.zugangstoken is not None:
        konfiguriert = einstellungen.zugangstoken.get_secret_value()
        client.access_token = konfiguriert
        antwort = await _pruefe_wer(client, einstellungen.benutzer)
        if verschluesselt_als == antwort.device_id and _speicher_fehlt(
            client, einstellungen, antwort.device_id
        ):
            raise AnmeldungFehlgeschlagen(
                f"Der Schlüsselspeicher von Gerät {antwort.device_id} fehlt in "
                f"{einstellungen.schluesselspeicher}. Mit diesem Zugangstoken kann der Bot "
                "nicht als neues Gerät starten: bitte ein neues Zugangstoken (neues Gerät) "
                "eintragen oder stattdessen das Passwort konfigurieren."
            )
        client.restore_login(antwort.user_id, antwort.device_id, konfiguriert)
        if gespeichert is not None:
            await _lege_token_ab(sitzungen, None, einstellungen, tilgen=klartext, instanz=instanz)
        log.info("Angemeldet mit konfiguriertem Zugangstoken, Gerät %s", client.device_id)
        return
    token: str | None = None
    if benutzer != einstellungen.benutzer:
        geraet = None
    elif (
        geraet is not None
        and verschluesselt_als == geraet
        and _speicher_fehlt(client, einstellungen, geraet)
    ):
        log.error(
            "SCHLÜSSELSPEICHER VERLOREN: %s enthält die Schlüssel von Gerät %s nicht mehr. "
            "Der Bot meldet sich als neues Gerät an; ältere verschlüsselte Nachrichten kann "
            "er nicht mehr lesen, neue schon. Das alte Gerät %s bitte in den "
            "Sitzungseinstellungen des Bot-Kontos abmelden.",
            einstellungen.schluesselspeicher,
            geraet,
            geraet,
        )
        geraet = None
    elif gespeichert is not None:
        token = await _entschluesselt(gespeichert, tresor, einstellungen.benutzer)
    if token and geraet:
        client.access_token = token
        antwort = await client.whoami()
        if isinstance(antwort, WhoamiResponse):
            await _pruefe_wer(client, einstellungen.benutzer, antwort)
            client.restore_login(einstellungen.benutzer, geraet, token)
            if klartext:
                await _lege_token_ab(sitzungen, token, einstellungen, tilgen=True, instanz=instanz)
                log.info("Gespeichertes Zugangstoken jetzt verschlüsselt (war Klartext)")
            log.info("Gespeicherte Anmeldung wiederverwendet, Gerät %s", geraet)
            return
        log.warning("Gespeichertes Zugangstoken ungültig (%s); neue Anmeldung", antwort.message)
        client.access_token = ""
    if einstellungen.passwort is None:
        raise AnmeldungFehlgeschlagen(
            "Kein gültiges Zugangstoken gespeichert und kein Passwort konfiguriert."
        )
    # Mit bekanntem Gerät anmelden, damit es dasselbe Gerät bleibt.
    client.device_id = geraet or ""
    anmeldung = await client.login(
        einstellungen.passwort.get_secret_value(), device_name=einstellungen.geraetename
    )
    if not isinstance(anmeldung, LoginResponse):
        raise AnmeldungFehlgeschlagen(
            f"Anmeldung als {einstellungen.benutzer} fehlgeschlagen: {anmeldung.message}"
        )
    merke_geheimnisse(anmeldung.access_token)
    await _pruefe_wer(client, einstellungen.benutzer)
    await _lege_token_ab(
        sitzungen,
        anmeldung.access_token,
        einstellungen,
        tilgen=klartext,
        geraet=anmeldung.device_id,
        benutzer=anmeldung.user_id,
        instanz=instanz,
    )
    log.info("Mit Passwort angemeldet, Gerät %s", anmeldung.device_id)


def tresorpasswort(einstellungen: MatrixEinstellungen) -> str | None:
    """Woraus der Schlüssel des gespeicherten Zugangstokens entsteht.

    Das Schlüsselpasswort (es schützt schon die Geräteschlüssel im Schlüsselspeicher), ohne
    Verschlüsselung das Passwort. Ohne beides (nur ein konfiguriertes Zugangstoken) wird
    kein Token gespeichert.
    """
    for geheim in (einstellungen.schluesselpasswort, einstellungen.passwort):
        if geheim is not None and geheim.get_secret_value():
            return geheim.get_secret_value()
    return None


def _zweck(benutzer: str) -> str:
    # Mit unterschrieben: ein Token gilt nur für das Konto, für das es gespeichert wurde.
    return f"{ZUGANGSTOKEN} {benutzer}"


async def _entschluesselt(gespeichert: str, tresor: str | None, benutzer: str) -> str | None:
    """Das gespeicherte Token im Klartext; `None`, wenn es nicht zu entschlüsseln ist."""
    if not ist_verschluesselt(gespeichert):
        token = gespeichert  # eine ältere Fassung schrieb es im Klartext
    elif tresor is None:
        return None
    else:
        try:
            # scrypt braucht ~0,1 s: nicht in der Ereignisschleife.
            token = await asyncio.to_thread(entschluessele, gespeichert, tresor, _zweck(benutzer))
        except NichtEntschluesselbar:
            log.warning(
                "Gespeichertes Zugangstoken nicht zu entschlüsseln (Schlüssel- oder Passwort "
                "geändert?); neue Anmeldung mit Passwort als dasselbe Gerät"
            )
            return None
    merke_geheimnisse(token)
    return token


async def _lege_token_ab(
    sitzungen: Sitzungsfabrik,
    token: str | None,
    einstellungen: MatrixEinstellungen,
    *,
    tilgen: bool,
    geraet: str | None = None,
    benutzer: str | None = None,
    instanz: str | None = None,
) -> None:
    """Speichert `token` verschlüsselt (`None`: keines) samt Gerät und Konto, falls genannt.

    `tilgen`: ein Klartext-Token wurde ersetzt; seine Reste verschwinden auch aus der Datei.
    """
    tresor = tresorpasswort(einstellungen)
    wert = None
    if token is not None and tresor is not None:
        zweck = _zweck(benutzer or einstellungen.benutzer)
        wert = await asyncio.to_thread(verschluessele, token, tresor, zweck)
    async with sitzungen.begin() as sitzung:
        if wert is None:
            await loesche_zustand(sitzung, instanzschluessel(ZUGANGSTOKEN, instanz))
        else:
            await setze_zustand(sitzung, instanzschluessel(ZUGANGSTOKEN, instanz), wert)
        if geraet is not None:
            await setze_zustand(sitzung, instanzschluessel(GERAET, instanz), geraet)
        if benutzer is not None:
            await setze_zustand(sitzung, instanzschluessel(BENUTZER, instanz), benutzer)
    if tilgen:
        log.info("Reste des Klartext-Tokens werden aus der Datenbankdatei getilgt")
        await tilge_ueberschriebenes(sitzungen)


async def _pruefe_wer(
    client: AsyncClient, erwartet: str, antwort: WhoamiResponse | None = None
) -> WhoamiResponse:
    if antwort is None:
        ergebnis = await client.whoami()
        if not isinstance(ergebnis, WhoamiResponse):
            raise AnmeldungFehlgeschlagen(f"Zugangstoken wird nicht angenommen: {ergebnis.message}")
        antwort = ergebnis
    if antwort.user_id != erwartet:
        raise AnmeldungFehlgeschlagen(
            f"Das Zugangstoken gehört zu {antwort.user_id}, konfiguriert ist {erwartet}."
        )
    if not antwort.device_id:
        raise AnmeldungFehlgeschlagen("Der Homeserver nennt zum Zugangstoken kein Gerät.")
    return antwort
