"""Übungen gegen einen echten Synapse: der Homeserver startet neu, während zehn Leute senden;
der Bot stirbt mitten im Schub an SIGKILL; ein anderer Schreiber sperrt die Datenbank.

Gezählt wird, was die Menschen sehen (jede Antwort bezieht sich per Zitat oder Reaktion auf
ihren Befehl) und was in der Datenbank des Bots steht (eine Statusmeldung je Meldung).
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import ClientError
from nio import AsyncClient, AsyncClientConfig, RoomSendResponse
from sqlalchemy import select

from bot.app import baue_verarbeitung
from bot.niotransport import NioTransport
from bot.verarbeitung import HINWEIS
from demo.clientinhalt import textnachricht
from demo.homeserver import LokalerHomeserver, Zugang
from demo.mensch import Mensch, Rohereignis
from modelle.datenbank import erzeuge_engine, erzeuge_sitzungsfabrik
from modelle.tabellen import VerarbeitetesEreignis
from tests.datenbanken import SqliteSperre, meldungen_je_ereignis
from tests.integration.umgebung import (
    Umgebung,
    antworten_auf,
    baue_umgebung,
    bot_prozess,
)

# Jede gesendete Nachricht trägt ihre Transaktions-ID auch im Inhalt: so zählt der Test, ob
# ein wiederholtes Senden beim Homeserver wirklich nur ein Ereignis ergab.
MARKE = "de.klimabot.uebung"


class Teammitglied:
    """Eine Person, die beharrlich sendet: scheitert das Senden (Homeserver weg), versucht sie
    es mit derselben Transaktions-ID erneut – wie Element."""

    def __init__(self, url: str, zugang: Zugang) -> None:
        self.user_id = zugang.user_id
        # Ohne eigene Wiederholungen in nio: der Test soll jeden Fehlschlag sehen.
        konfiguration = AsyncClientConfig(max_timeouts=0, max_limit_exceeded=0, request_timeout=5)
        self.client = AsyncClient(url, zugang.user_id, config=konfiguration)
        self.client.restore_login(zugang.user_id, zugang.device_id, zugang.access_token)
        self.wiederholt = 0

    async def sende(self, raum_id: str, text: str, *, frist: float = 30) -> str:
        txn_id = f"uebung-{secrets.token_hex(8)}"
        inhalt = {**textnachricht(text), MARKE: txn_id}
        ende = time.monotonic() + frist
        while True:
            try:
                antwort = await self.client.room_send(
                    raum_id, "m.room.message", inhalt, tx_id=txn_id
                )
            except (ClientError, TimeoutError) as fehler:
                antwort = fehler
            if isinstance(antwort, RoomSendResponse):
                return str(antwort.event_id)
            assert time.monotonic() < ende, f"{text!r} nicht gesendet: {antwort}"
            self.wiederholt += 1
            await asyncio.sleep(0.2)


async def _team(umgebung: Umgebung, anzahl: int) -> list[Teammitglied]:
    """So viele weitere Klimakoordinator*innen für Energie, im Energie-Raum; der Bot kennt sie
    nach seinem Neustart aus der Strukturdatei."""
    server, raum = umgebung.homeserver, umgebung.raum_energie
    team = []
    personen = []
    for nummer in range(anzahl):
        zugang = server.registriere(f"team{nummer}-{secrets.token_hex(4)}", "pw")
        await umgebung.patin.client.room_invite(raum, zugang.user_id)
        mitglied = Teammitglied(server.url, zugang)
        await mitglied.client.join(raum)
        team.append(mitglied)
        personen.append(
            f'\n[[person]]\nmatrix_id = "{zugang.user_id}"\nname = "Team {nummer}"\n'
            'koordination = ["energie"]\n'
        )
    struktur = umgebung.config.parent / "struktur.toml"
    struktur.write_text(struktur.read_text(encoding="utf-8") + "".join(personen), "utf-8")
    await umgebung.stoppe_bot()
    await umgebung.starte_bot()
    return team


async def _schliesse(team: list[Teammitglied]) -> None:
    for mitglied in team:
        await mitglied.client.close()


def _alle(beobachter: Mensch, raum: str) -> list[Rohereignis]:
    return [e for r, e in beobachter.gesehen if r == raum]


async def _warte_auf_antworten(
    beobachter: Mensch, raum: str, bot: str, befehle: list[str], *, frist: float = 40
) -> None:
    """Synchronisiert, bis jeder Befehl beantwortet ist, und sammelt danach, was nachkommt."""
    ende = time.monotonic() + frist
    while True:
        alle = _alle(beobachter, raum)
        offen = [b for b in befehle if not antworten_auf(alle, b, bot)]
        if not offen:
            break
        assert time.monotonic() < ende, f"{len(offen)} von {len(befehle)} Befehlen unbeantwortet"
        await beobachter.synchronisiere()
    await beobachter.ruhe(2)  # was doppelt käme, käme jetzt


def _pruefe_genau_einmal(
    beobachter: Mensch, raum: str, bot: str, befehle: list[str], meldungen: list[str]
) -> None:
    """Jeder Befehl bekam genau eine Antwort, jede Meldung als Antwort ihr ✅."""
    alle = _alle(beobachter, raum)
    antworten = {b: antworten_auf(alle, b, bot) for b in befehle}
    assert {b: len(a) for b, a in antworten.items()} == dict.fromkeys(befehle, 1)
    quittungen = {m: antworten[m][0]["content"]["m.relates_to"].get("key") for m in meldungen}
    assert quittungen == dict.fromkeys(meldungen, "✅")
    # Jede Transaktion ergab genau ein Ereignis, auch wenn sie mehrmals gesendet wurde.
    marken = [e["content"][MARKE] for e in alle if MARKE in e.get("content", {})]
    assert len(marken) == len(set(marken)) == len(befehle)


async def _pruefe_datenbank(url: str, meldungen: list[str], befehle: list[str]) -> None:
    """Jede Meldung steht genau einmal in der Datenbank, jeder Befehl ist als behandelt vermerkt."""
    engine = erzeuge_engine(url)
    try:
        sitzungen = erzeuge_sitzungsfabrik(engine)
        assert await meldungen_je_ereignis(sitzungen, meldungen) == dict.fromkeys(meldungen, 1)
        async with sitzungen() as sitzung:
            vermerkt = set(
                await sitzung.scalars(
                    select(VerarbeitetesEreignis.event_id).where(
                        VerarbeitetesEreignis.event_id.in_(befehle)
                    )
                )
            )
        assert vermerkt == set(befehle)
    finally:
        await engine.dispose()


def _datenbank_url(umgebung: Umgebung) -> str:
    return f"sqlite+aiosqlite:///{umgebung.config.parent / 'klimabot.db'}"


# --- Der Homeserver startet neu, während zehn Leute senden -----------------------------------


@pytest.fixture(scope="module")
def neustartbarer_homeserver(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LokalerHomeserver]:
    """Ein eigener Synapse: diese Übung startet ihn neu, andere Tests sollen davon nichts merken."""
    with LokalerHomeserver(tmp_path_factory.mktemp("neustartbar")) as server:
        yield server


@pytest.fixture
async def umgebung_neustartbar(
    neustartbarer_homeserver: LokalerHomeserver, tmp_path: Path
) -> AsyncIterator[Umgebung]:
    async for fertig in baue_umgebung(neustartbarer_homeserver, tmp_path):
        yield fertig


async def test_homeserver_neustart_unter_last_jeder_befehl_genau_einmal(
    umgebung_neustartbar: Umgebung,
) -> None:
    umgebung = umgebung_neustartbar
    raum, bot, server = umgebung.raum_energie, umgebung.bot_id, umgebung.homeserver
    team = await _team(umgebung, 10)
    meldungen: list[str] = []
    befehle: list[str] = []

    async def sendet(nummer: int, mitglied: Teammitglied) -> None:
        for runde in range(6):
            if runde % 2:
                befehle.append(await mitglied.sende(raum, "!status energie"))
            else:
                projekt = ("waermeplanung", "pv-offensive")[nummer % 2]
                text = f"!meldung {projekt} gelb {runde * 10}% Neustart {nummer}-{runde}"
                meldung = await mitglied.sende(raum, text)
                meldungen.append(meldung)
                befehle.append(meldung)
            await asyncio.sleep(0.2)

    async def neustart() -> None:
        await asyncio.sleep(0.5)
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(server.start)

    try:
        beginn = time.monotonic()
        await asyncio.gather(neustart(), *(sendet(n, m) for n, m in enumerate(team)))
        await _warte_auf_antworten(umgebung.patin, raum, bot, befehle)
        dauer = time.monotonic() - beginn
    finally:
        await _schliesse(team)

    assert sum(m.wiederholt for m in team) > 0  # der Neustart traf wirklich Sendungen
    assert len(befehle) == 60
    _pruefe_genau_einmal(umgebung.patin, raum, bot, befehle, meldungen)
    assert umgebung.bot is not None
    assert await meldungen_je_ereignis(umgebung.bot.sitzungen, meldungen) == dict.fromkeys(
        meldungen, 1
    )
    assert dauer < 45


# --- SIGKILL mitten im Schub -------------------------------------------------------------


def _behandelt(datei: Path, event_ids: list[str]) -> int:
    """Wie viele der Ereignisse der Bot schon als behandelt vermerkt hat (liest nur)."""
    with sqlite3.connect(f"file:{datei}?mode=ro", uri=True, timeout=5) as verbindung:
        platzhalter = ",".join("?" * len(event_ids))
        zeile = verbindung.execute(
            f"SELECT count(*) FROM verarbeitetes_ereignis WHERE event_id IN ({platzhalter})",
            event_ids,
        ).fetchone()
    return int(zeile[0])


async def test_sigkill_mitten_im_schub_verliert_nichts_und_antwortet_nie_doppelt(
    umgebung: Umgebung,
) -> None:
    raum, bot, patin = umgebung.raum_energie, umgebung.bot_id, umgebung.patin
    team = await _team(umgebung, 8)
    await umgebung.stoppe_bot()
    datei = umgebung.config.parent / "klimabot.db"
    meldungen: list[str] = []
    befehle: list[str] = []

    async def schub(runde: int) -> None:
        async def sendet(nummer: int, mitglied: Teammitglied) -> None:
            for teil in range(3):
                if teil == 1:
                    befehle.append(await mitglied.sende(raum, "!status energie"))
                else:
                    text = f"!meldung waermeplanung rot {teil}% Schub {runde}-{nummer}-{teil}"
                    meldung = await mitglied.sende(raum, text)
                    meldungen.append(meldung)
                    befehle.append(meldung)

        await asyncio.gather(*(sendet(n, m) for n, m in enumerate(team)))

    try:
        # Der Schub liegt schon bereit, wenn der Bot startet: er kommt in einem Sync-Stapel.
        await schub(1)
        erster_schub = list(befehle)
        with bot_prozess(umgebung.config) as prozess:
            ende = time.monotonic() + 30
            while (behandelt := await asyncio.to_thread(_behandelt, datei, erster_schub)) < 3:
                assert time.monotonic() < ende, "Der Bot fing nicht an"
                await asyncio.sleep(0.01)
            prozess.send_signal(signal.SIGKILL)
            prozess.wait(timeout=10)
        nach_dem_kill = await asyncio.to_thread(_behandelt, datei, erster_schub)
        # Während der Bot weg ist, geht es weiter.
        await schub(2)

        with bot_prozess(umgebung.config) as prozess:
            await _warte_auf_antworten(patin, raum, bot, befehle)
            prozess.send_signal(signal.SIGTERM)
            assert prozess.wait(timeout=20) == 0
    finally:
        await _schliesse(team)

    assert 3 <= behandelt <= nach_dem_kill < len(erster_schub), "SIGKILL kam nicht mittendrin"
    assert len(befehle) == 48
    _pruefe_genau_einmal(patin, raum, bot, befehle, meldungen)
    await _pruefe_datenbank(_datenbank_url(umgebung), meldungen, befehle)


# --- Die Datenbank ist gesperrt (ein anderer Schreiber hält SQLite) ---------------------------


async def test_kurz_gesperrte_datenbank_verzoegert_nur(umgebung: Umgebung) -> None:
    raum, bot = umgebung.raum_energie, umgebung.bot_id
    sperre = SqliteSperre(umgebung.config.parent / "klimabot.db", wartezeit=20)
    await sperre.setzen()
    try:
        meldung = await umgebung.patin.sende(raum, "!meldung waermeplanung gelb 45% gesperrt")
        frage = await umgebung.koordination.sende(raum, "!status energie")
        await asyncio.sleep(2)
    finally:
        await sperre.loesen()
    assert await umgebung.patin.reaktion_auf(meldung, von=bot, frist=30) == "✅"
    await umgebung.koordination.antwort_auf(frage, von=bot, frist=30)
    await umgebung.patin.ruhe(1)
    alle = _alle(umgebung.patin, raum)
    assert len(antworten_auf(alle, meldung, bot)) == 1
    assert len(antworten_auf(alle, frage, bot)) == 1
    assert not [e for e in alle if HINWEIS in e.get("content", {}).get("body", "")]


# Im Betrieb wartet SQLite bis zu 15 s auf eine fremde Sperre (modelle/datenbank.py).
SQLITE_WARTEZEIT_IM_BETRIEB = 15


async def test_lange_gesperrte_datenbank_gibt_hinweis_und_der_bot_laeuft_weiter(
    umgebung: Umgebung,
) -> None:
    raum, bot, patin = umgebung.raum_energie, umgebung.bot_id, umgebung.patin
    klimabot = umgebung.bot
    assert klimabot is not None
    # Eine Verarbeitung mit kurzer Geduld und kurzer SQLite-Wartezeit (im Betrieb 30 s und
    # 15 s); Transport und Ausgangskorb sind die des laufenden Bots.
    engine = erzeuge_engine(_datenbank_url(umgebung), connect_args={"timeout": 0.5})
    klimabot.sync.verarbeitung = baue_verarbeitung(
        klimabot.einstellungen,
        erzeuge_sitzungsfabrik(engine),
        bot_id=bot,
        nach_commit=klimabot.zusteller.uebergib,
        transport=NioTransport(klimabot.client),
        geduld=2,
    )
    sperre = SqliteSperre(umgebung.config.parent / "klimabot.db", wartezeit=20)
    # Nach dem Start synchronisiert der Bot noch einmal (seine neuen Geräteschlüssel); erst
    # danach wartet er nur noch auf Nachrichten.
    await asyncio.sleep(1)
    try:
        await sperre.setzen()
        try:
            meldung = await patin.sende(raum, "!meldung waermeplanung rot 5% lange gesperrt")
            hinweis = await patin.antwort_auf(meldung, von=bot, frist=25)
            # Länger gesperrt, als der Rest des Bots wartet: auch sein Speichern der
            # Sync-Position scheitert jetzt, und er muss trotzdem weiterlaufen.
            await asyncio.sleep(SQLITE_WARTEZEIT_IM_BETRIEB + 1)
        finally:
            await sperre.loesen()
        assert umgebung.bot_aufgabe is not None
        assert not umgebung.bot_aufgabe.done()
        erneut = await patin.sende(raum, "!meldung waermeplanung rot 5% lange gesperrt")
        assert await patin.reaktion_auf(erneut, von=bot, frist=30) == "✅"
        await patin.ruhe(1)
    finally:
        await engine.dispose()
        aufgabe = umgebung.bot_aufgabe
        if aufgabe is not None and aufgabe.done():
            # Sonst scheitert erst das Aufräumen der Umgebung, mit weniger klarer Meldung.
            umgebung.bot, umgebung.bot_aufgabe = None, None
            raise AssertionError(f"Der Bot hat sich beendet: {aufgabe.exception()!r}")

    assert HINWEIS in hinweis["content"]["body"]
    assert hinweis["content"]["m.mentions"] == {"user_ids": [patin.user_id]}
    alle = _alle(patin, raum)
    assert len(antworten_auf(alle, meldung, bot)) == 1  # nur der Hinweis, kein ✅ danach
    assert len(antworten_auf(alle, erneut, bot)) == 1
    assert await meldungen_je_ereignis(klimabot.sitzungen, [meldung, erneut]) == {
        meldung: 0,
        erneut: 1,
    }
