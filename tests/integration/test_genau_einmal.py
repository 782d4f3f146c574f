"""Sofort antworten, danach vermerken – und trotzdem genau einmal (Issue 13).

Ein Lesebefehl wie `!status energie` wird gesendet, bevor der Bot ihn als behandelt vermerkt.
Stirbt der Bot genau dazwischen, bringt der Sync den Befehl nach dem Neustart noch einmal. Er
darf trotzdem nur eine Antwort bekommen: Die Antwort trägt die aus der Event-ID abgeleitete
Transaktions-ID, steht mit ihr im Sync, und der Homeserver legt dieselbe Transaktion desselben
Geräts nicht zweimal an. Die Übung hier hält den Bot genau im Spalt fest (die Testdatei sperrt
die SQLite-Datenbank für Schreiber: lesen und senden geht, vermerken wartet) und tötet ihn dort
mit SIGKILL.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from nio import AsyncClient, LoginResponse, RoomSendResponse

from bot.ausgang import NACHRICHT, antwort_txn_id
from modelle.datenbank import sqlite_datei
from tests.integration.umgebung import (
    Umgebung,
    antworten_auf,
    bot_prozess,
    protokoll_von,
    warte_auf_zeile,
)


def _datenbankdatei(config: Path) -> Path:
    url = tomllib.loads(config.read_text(encoding="utf-8"))["datenbank"]["url"]
    datei = sqlite_datei(url)
    assert datei is not None, url
    return datei


@contextmanager
def _schreibsperre(datei: Path) -> Iterator[sqlite3.Connection]:
    """Hält die Schreibsperre der Datenbank (WAL: Lesende lesen weiter, Schreibende warten)."""
    verbindung = sqlite3.connect(datei, isolation_level=None, timeout=15)
    try:
        verbindung.execute("BEGIN IMMEDIATE")
        yield verbindung
    finally:
        verbindung.execute("ROLLBACK")
        verbindung.close()


def _behandelt(datei: Path, event_id: str) -> bool:
    with sqlite3.connect(datei, timeout=15) as verbindung:
        zeile = verbindung.execute(
            "SELECT 1 FROM verarbeitetes_ereignis WHERE event_id = ?", (event_id,)
        ).fetchone()
    return zeile is not None


async def _warte_bis_behandelt(datei: Path, event_id: str) -> None:
    for _ in range(100):
        if _behandelt(datei, event_id):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{event_id} nicht als behandelt vermerkt")


@pytest.mark.parametrize(
    "neustart", [(), ("--instanz", "b")], ids=["derselbe Bot", "eine andere Instanz"]
)
async def test_stirbt_der_bot_zwischen_senden_und_vermerken_bleibt_es_bei_einer_antwort(
    umgebung: Umgebung, neustart: tuple[str, ...]
) -> None:
    await umgebung.stoppe_bot()
    patin, raum, bot = umgebung.patin, umgebung.raum_energie, umgebung.bot_id
    ordner = umgebung.config.parent
    datei = _datenbankdatei(umgebung.config)

    with bot_prozess(umgebung.config, protokoll_datei="erster.log") as erster:
        await warte_auf_zeile(ordner / "erster.log", "ist bereit")
        warm = await patin.sende(raum, "!status energie")
        await patin.antwort_auf(warm, von=bot, frist=30)
        with _schreibsperre(datei) as gesperrt:
            frage = await patin.sende(raum, "!status energie")
            # Die Antwort kommt, obwohl niemand schreiben kann: gesendet wird vor dem Vermerk.
            antwort = await patin.antwort_auf(frage, von=bot, frist=30)
            await asyncio.sleep(0.5)
            assert (
                gesperrt.execute(
                    "SELECT 1 FROM verarbeitetes_ereignis WHERE event_id = ?", (frage,)
                ).fetchone()
                is None
            )
            erster.send_signal(signal.SIGKILL)
            erster.wait(timeout=10)
    assert not _behandelt(datei, frage)

    with bot_prozess(umgebung.config, *neustart, protokoll_datei="zweiter.log") as zweiter:
        await warte_auf_zeile(ordner / "zweiter.log", "ist bereit", frist=60)
        await _warte_bis_behandelt(datei, frage)
        danach = await patin.sende(raum, "!status energie")
        await patin.antwort_auf(danach, von=bot, frist=30)
        await patin.ruhe(2)
        zweiter.send_signal(signal.SIGTERM)
        assert zweiter.wait(timeout=20) == 0

    alle = [e for r, e in patin.gesehen if r == raum]
    assert [e["event_id"] for e in antworten_auf(alle, frage, bot)] == [antwort["event_id"]]
    for event_id in (warm, danach):
        assert len(antworten_auf(alle, event_id, bot)) == 1, event_id
    assert f"Antwort auf {frage} stand schon im Raum" in protokoll_von(ordner / "zweiter.log")
    with sqlite3.connect(datei) as verbindung:
        vermerkt = verbindung.execute(
            "SELECT event_id, gesendet_am IS NOT NULL FROM ausgang WHERE txn_id = ?",
            (antwort_txn_id(frage),),
        ).fetchall()
    assert vermerkt == [(antwort["event_id"], 1)]


async def test_homeserver_legt_dieselbe_transaktion_desselben_geraets_nur_einmal_an(
    umgebung: Umgebung,
) -> None:
    """Die zweite Verteidigung, falls der Sync die Antwort nicht mehr zeigt: Synapse kennt eine
    Transaktions-ID desselben Geräts 24 Stunden lang und gibt das erste Ereignis zurück. Ein
    anderes Gerät bekäme ein neues – dafür steht die Kennung im Ereignis (Test oben)."""
    assert umgebung.bot_zugang is not None
    txn_id = antwort_txn_id("$eine-frage")
    inhalt = {"msgtype": "m.notice", "body": "einmal"}

    async def sende(client: AsyncClient) -> str:
        antwort = await client.room_send(umgebung.raum_energie, NACHRICHT, inhalt, tx_id=txn_id)
        assert isinstance(antwort, RoomSendResponse), antwort
        return str(antwort.event_id)

    geraete = [AsyncClient(umgebung.homeserver.url, umgebung.bot_id) for _ in range(2)]
    try:
        for client in geraete:
            assert isinstance(await client.login(umgebung.bot_zugang.passwort), LoginResponse)
        erste = await sende(geraete[0])
        assert await sende(geraete[0]) == erste
        assert await sende(geraete[1]) != erste
    finally:
        for client in geraete:
            await client.close()
