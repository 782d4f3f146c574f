"""Genau eine aktive Instanz je Bot-Konto: die Sperre auf SQLite und PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from pydantic import SecretStr

from befehle.grundlagen import Betrieb
from bot.anmeldung import (
    GERAET,
    SYNC_POSITION,
    ZUGANGSTOKEN,
    AnmeldungFehlgeschlagen,
    behaupte_eigenes_geraet,
    erbe_bisheriges_geraet,
    instanzschluessel,
)
from bot.app import bereitschaft_anmelden
from bot.bereitschaft import (
    AndereInstanzAktiv,
    DateiSperre,
    Instanzsperre,
    SperreVerloren,
    sperrdatei,
    sperre_fuer,
    werde_aktiv,
)
from bot.config import (
    DatenbankEinstellungen,
    Einstellungen,
    InstanzEinstellungen,
    MatrixEinstellungen,
    UeberwachungEinstellungen,
)
from bot.planer import Planer
from modelle.datenbank import Sitzungsfabrik, sqlite_datei
from modelle.zustand import lies_zustand, setze_zustand
from tests.datenbanken import asyncpg_dsn
from tests.kommandozeile import klimabot
from tests.testbot import BERLIN, RAUM_ENERGIE, Testbot

BOT = "@klimabot:stadt.test"
WURZEL = Path(__file__).resolve().parent.parent

# Hält die Sperre in einem eigenen Prozess, bis er getötet wird.
HALTER = """
import asyncio, sys
from bot.bereitschaft import sperre_fuer

async def halten():
    sperre = sperre_fuer(sys.argv[1], sys.argv[2], "halter")
    assert await sperre.versuche()
    print("aktiv", flush=True)
    await asyncio.sleep(3600)

asyncio.run(halten())
"""


def _halter(datenbank_url: str) -> subprocess.Popen[str]:
    prozess = subprocess.Popen(
        [sys.executable, "-c", HALTER, datenbank_url, BOT],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONPATH": str(WURZEL)},
    )
    assert prozess.stdout is not None
    assert prozess.stdout.readline().strip() == "aktiv"
    return prozess


@contextlib.asynccontextmanager
async def _sperren(*wer: tuple[str, str, str]) -> AsyncIterator[list[Instanzsperre]]:
    """Je (Datenbank, Bot-Konto, Instanz) eine Sperre; am Ende sind alle wieder freigegeben."""
    sperren: list[Instanzsperre] = []
    for url, benutzer, instanz in wer:
        sperre = sperre_fuer(url, benutzer, instanz)
        assert sperre is not None
        sperren.append(sperre)
    try:
        yield sperren
    finally:
        for sperre in sperren:
            await sperre.freigeben()


async def test_zweite_instanz_bekommt_die_sperre_erst_wenn_die_erste_sie_freigibt(
    datenbank_url: str,
) -> None:
    async with _sperren((datenbank_url, BOT, "eins"), (datenbank_url, BOT, "zwei")) as (
        erste,
        zweite,
    ):
        assert await erste.versuche()
        assert not await zweite.versuche()
        await erste.pruefe()  # die aktive hält sie weiter
        await erste.freigeben()
        assert await zweite.versuche()
        assert not await erste.versuche()


async def test_sperre_gilt_je_bot_konto_und_datenbank(datenbank_url: str, tmp_path: Path) -> None:
    if datenbank_url.startswith("sqlite"):
        # Die Sperre liegt neben der Datei: eine andere Datenbank sperrt sie nicht.
        andere = (f"sqlite+aiosqlite:///{tmp_path / 'anders.db'}", BOT, "eins")
    else:
        andere = (datenbank_url, "@energiebot:stadt.test", "eins")
    async with _sperren((datenbank_url, BOT, "eins"), andere) as (klimabot_sperre, zweite):
        assert await klimabot_sperre.versuche()
        assert await zweite.versuche()


async def test_einmalig_sagt_welche_instanz_aktiv_ist(datenbank_url: str) -> None:
    async with _sperren((datenbank_url, BOT, "rechner-a"), (datenbank_url, BOT, "rechner-b")) as (
        aktive,
        zweite,
    ):
        assert await aktive.versuche()
        with pytest.raises(
            AndereInstanzAktiv, match=r"andere Instanz \(rechner-a\).*rechner-b\) endet"
        ):
            await werde_aktiv(zweite, instanz="rechner-b", bereitschaft=False, halt=asyncio.Event())


async def test_zweite_instanz_mit_demselben_namen_wartet_nicht_als_dasselbe_geraet(
    datenbank_url: str,
) -> None:
    vorbereitet: list[bool] = []

    async def anmelden() -> None:
        vorbereitet.append(True)

    async with _sperren((datenbank_url, BOT, "rechner-a"), (datenbank_url, BOT, "rechner-a")) as (
        aktive,
        zweite,
    ):
        assert await aktive.versuche()
        with pytest.raises(AndereInstanzAktiv, match="braucht einen eigenen Namen"):
            await werde_aktiv(
                zweite,
                instanz="rechner-a",
                bereitschaft=True,
                halt=asyncio.Event(),
                vorbereiten=anmelden,
            )
        assert not vorbereitet, "sie darf sich nicht als Gerät der aktiven anmelden"


async def test_bereitschaft_uebernimmt_nach_sigkill_der_aktiven_binnen_zehn_sekunden(
    datenbank_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.bereitschaft")
    halter = _halter(datenbank_url)
    bereitschaft = sperre_fuer(datenbank_url, BOT, "bereitschaft")
    assert bereitschaft is not None
    try:
        warten = asyncio.create_task(
            werde_aktiv(
                bereitschaft, instanz="bereitschaft", bereitschaft=True, halt=asyncio.Event()
            )
        )
        await asyncio.sleep(1.5)
        assert not warten.done(), "die Bereitschaft darf nicht aktiv werden, solange die erste lebt"
        assert "wartet in Bereitschaft" in caplog.text
        getoetet = time.monotonic()
        halter.send_signal(signal.SIGKILL)
        frei_seit = await asyncio.wait_for(warten, timeout=15)
        uebernahme = time.monotonic() - getoetet
        print(f"\nÜbernahme ({datenbank_url.partition('+')[0]}): {uebernahme:.2f} s nach SIGKILL")
        assert uebernahme <= 10
        assert frei_seit is not None
        assert frei_seit <= 10
        assert "übernimmt nach" in caplog.text
    finally:
        halter.kill()
        halter.wait()
        await bereitschaft.freigeben()


async def test_bereitschaft_endet_auf_signal_ohne_aktiv_zu_werden(datenbank_url: str) -> None:
    halt = asyncio.Event()
    async with _sperren((datenbank_url, BOT, "eins"), (datenbank_url, BOT, "zwei")) as (
        aktive,
        zweite,
    ):
        assert await aktive.versuche()
        warten = asyncio.create_task(
            werde_aktiv(zweite, instanz="zwei", bereitschaft=True, halt=halt, abstand=0.1)
        )
        await asyncio.sleep(0.3)
        halt.set()
        assert await asyncio.wait_for(warten, timeout=5) is None


async def test_geloeschte_sperrdatei_gilt_als_verlorene_sperre(tmp_path: Path) -> None:
    sperre = DateiSperre(tmp_path / "klimabot.db.sperre", "eins")
    try:
        assert await sperre.versuche()
        assert await sperre.aktive_instanz() == "eins"
        (tmp_path / "klimabot.db.sperre").unlink()
        with pytest.raises(SperreVerloren, match="entfernt"):
            await sperre.pruefe()
    finally:
        await sperre.freigeben()


def _config(ordner: Path, datenbank_url: str) -> Path:
    datei = ordner / "config.toml"
    datei.write_text(
        f"""
[matrix]
homeserver = "http://127.0.0.1:9"
benutzer = "{BOT}"
verschluesselung = false

[datenbank]
url = "{datenbank_url}"
""",
        encoding="utf-8",
    )
    return datei


async def test_run_einmalig_endet_mit_code_2_wenn_eine_andere_instanz_aktiv_ist(
    datenbank_url: str, tmp_path: Path
) -> None:
    aktive = sperre_fuer(datenbank_url, BOT, "rechner-a")
    assert aktive is not None
    config = _config(tmp_path, datenbank_url)
    try:
        assert await aktive.versuche()
        for argumente, umgebung in (
            (("--einmalig",), {}),
            ((), {"KLIMABOT_INSTANZ__BEREITSCHAFT": "false"}),
        ):
            ergebnis = await asyncio.to_thread(
                klimabot,
                "run",
                "--config",
                str(config),
                "--instanz",
                "rechner-b",
                *argumente,
                ordner=tmp_path,
                PYTHONPATH=str(WURZEL),
                KLIMABOT_MATRIX__PASSWORT="geheim",
                **umgebung,
            )
            assert ergebnis.returncode == 2, ergebnis.stderr
            assert "Eine andere Instanz (rechner-a)" in ergebnis.stderr
            assert "Diese Instanz (rechner-b) endet" in ergebnis.stderr
            assert "Traceback" not in ergebnis.stderr
    finally:
        await aktive.freigeben()


def test_ungueltiger_instanzname_wird_abgelehnt(tmp_path: Path) -> None:
    config = _config(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'klimabot.db'}")
    ergebnis = klimabot(
        "run",
        "--config",
        str(config),
        "--instanz",
        "zwei wörter",
        ordner=tmp_path,
        PYTHONPATH=str(WURZEL),
        KLIMABOT_MATRIX__PASSWORT="geheim",
    )
    assert ergebnis.returncode == 2
    assert "--instanz zwei wörter: nur Buchstaben" in ergebnis.stderr


async def test_erste_aktive_instanz_erbt_das_geraet_einer_aelteren_fassung(
    sitzungen: Sitzungsfabrik,
) -> None:
    """Vor den Instanzen gab es ein Gerät je Konto: genau eine Instanz übernimmt es samt Token
    und Sync-Position; jede weitere wird ein eigenes, neues Gerät."""
    async with sitzungen.begin() as sitzung:
        await setze_zustand(sitzung, GERAET, "ALTGERAET")
        await setze_zustand(sitzung, ZUGANGSTOKEN, "verschluesselt")
        await setze_zustand(sitzung, SYNC_POSITION, "s42")
    await erbe_bisheriges_geraet(sitzungen, "rechner-a")
    await erbe_bisheriges_geraet(sitzungen, "rechner-b")
    async with sitzungen() as sitzung:
        assert await lies_zustand(sitzung, instanzschluessel(GERAET, "rechner-a")) == "ALTGERAET"
        assert await lies_zustand(sitzung, instanzschluessel(SYNC_POSITION, "rechner-a")) == "s42"
        assert await lies_zustand(sitzung, instanzschluessel(GERAET, "rechner-b")) is None
        assert await lies_zustand(sitzung, GERAET) is None
        assert await lies_zustand(sitzung, ZUGANGSTOKEN) is None


async def test_abgerissene_verbindung_der_sperre_gilt_als_verlorene_sperre(
    datenbank_url: str, tmp_path: Path
) -> None:
    """Die aktive Instanz merkt, wenn ihre Sperre nicht mehr sicher ist, und hört auf: auf
    PostgreSQL endet die Sperre mit der Sitzung (hier vom Server beendet), auf SQLite mit der
    Sperrdatei."""
    async with _sperren((datenbank_url, BOT, "eins"), (datenbank_url, BOT, "zwei")) as (
        sperre,
        bereitschaft,
    ):
        assert await sperre.versuche()
        if datenbank_url.startswith("sqlite"):
            datei = sqlite_datei(datenbank_url)
            assert datei is not None
            sperrdatei(datei).unlink()
        else:
            verbindung = await asyncpg.connect(asyncpg_dsn(datenbank_url))
            try:
                await verbindung.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'klimabot eins'"
                )
            finally:
                await verbindung.close()
        with pytest.raises(SperreVerloren):
            await sperre.pruefe()
        assert await bereitschaft.versuche(), "nun darf die Bereitschaft übernehmen"


async def test_zwei_instanzen_sind_nie_dasselbe_geraet(sitzungen: Sitzungsfabrik) -> None:
    """Etwa mit demselben konfigurierten Zugangstoken auf beiden Rechnern: die zweite startet
    nicht, statt Schlüssel mit der ersten zu teilen."""
    await behaupte_eigenes_geraet(sitzungen, "rechner-a", "GERAET1")
    await behaupte_eigenes_geraet(sitzungen, "rechner-a", "GERAET1")  # Neustart: dasselbe
    await behaupte_eigenes_geraet(sitzungen, "rechner-b", "GERAET2")
    with pytest.raises(AnmeldungFehlgeschlagen, match="gehört schon Instanz rechner-a"):
        await behaupte_eigenes_geraet(sitzungen, "rechner-c", "GERAET1")


async def test_waehrend_der_uebernahme_faellige_abfrage_kommt_genau_einmal(
    sitzungen: Sitzungsfabrik, planbar: Testbot
) -> None:
    """Die aktive Instanz plante die Montagsabfrage noch (Versand und Ausgangskorb in der
    Datenbank) und starb vor dem Senden; die übernehmende plant sie nicht noch einmal,
    sondern stellt zu, was im Korb liegt – auch verspätet nur einmal."""
    faellig = dt.datetime(2026, 11, 30, 9, 0, 30, tzinfo=BERLIN)
    aktive = Planer(
        sitzungen=sitzungen, zeitzone=BERLIN, betrieb=Betrieb(), praefix="!", uhr=lambda: faellig
    )
    await aktive.pruefe()  # … und dann SIGKILL: nichts gesendet
    assert planbar.rekorder.gesendet == []
    nach_uebernahme = await planbar.planer_durchgang(faellig + dt.timedelta(seconds=5))
    spaeter = await planbar.planer_durchgang(faellig + dt.timedelta(hours=1))
    abfragen = [
        g
        for g in nach_uebernahme + spaeter
        if g.raum_id == RAUM_ENERGIE and "Fortschrittsabfrage" in g.text
    ]
    assert len(abfragen) == 1


async def test_bereitschaft_meldet_sich_in_ready_und_metrics_als_bereitschaft(
    datenbank_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Auch wenn ihr Homeserver gerade nicht erreichbar ist: `/ready` sagt 503 „Bereitschaft“,
    `klimabot_aktiv` ist 0 – so alarmiert Prometheus nicht, solange die aktive bereit ist."""
    with socket.socket() as frei:
        frei.bind(("127.0.0.1", 0))
        port = frei.getsockname()[1]
    einstellungen = Einstellungen(
        matrix=MatrixEinstellungen(
            homeserver="http://127.0.0.1:9",
            benutzer=BOT,
            passwort=SecretStr("geheim"),
            verschluesselung=False,
        ),
        datenbank=DatenbankEinstellungen(url=datenbank_url),
        ueberwachung=UeberwachungEinstellungen(eingeschaltet=True, port=port),
        instanz=InstanzEinstellungen(name="zwei"),
    )
    dienst = asyncio.create_task(bereitschaft_anmelden(einstellungen))
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with http.get(f"http://127.0.0.1:{port}/ready") as antwort:
                        status, lage = antwort.status, await antwort.json()
                    break
                await asyncio.sleep(0.05)
            async with http.get(f"http://127.0.0.1:{port}/metrics") as antwort:
                kennzahlen = await antwort.text()
        assert status == 503
        assert lage["betriebsart"] == "bereitschaft"
        assert "klimabot_aktiv 0.0" in kennzahlen
        for _ in range(100):
            if "Anmeldung der Bereitschaft gescheitert" in caplog.text:
                break
            await asyncio.sleep(0.05)
        assert "Anmeldung der Bereitschaft gescheitert" in caplog.text
        assert not dienst.done(), "sie wartet weiter, auch ohne Homeserver"
    finally:
        dienst.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await dienst
    with socket.socket() as wieder:
        wieder.bind(("127.0.0.1", port))  # der Port ist frei für die aktive Instanz
