"""Anmeldung: ein Gerät über alle Neustarts, und ein fremdes Token wird erkannt."""

from __future__ import annotations

import asyncio
import subprocess

from nio import DevicesResponse

from bot.anmeldung import ZUGANGSTOKEN, instanzschluessel
from modelle.zustand import lies_zustand
from tests.integration.umgebung import Umgebung
from tests.kommandozeile import KLIMABOT, ohne_klimabot_umgebung


async def test_neustart_behaelt_das_geraet(umgebung: Umgebung) -> None:
    assert umgebung.bot is not None
    geraet = umgebung.bot.client.device_id
    vorher = await umgebung.bot.client.devices()
    assert isinstance(vorher, DevicesResponse)
    for _ in range(2):
        await umgebung.stoppe_bot()
        bot = await umgebung.starte_bot()
        assert bot.client.device_id == geraet
    nachher = await bot.client.devices()
    assert isinstance(nachher, DevicesResponse)
    assert sorted(g.id for g in nachher.devices) == sorted(g.id for g in vorher.devices)


async def test_token_eines_anderen_kontos_beendet_mit_code_2(umgebung: Umgebung) -> None:
    await umgebung.stoppe_bot()
    fremd = umgebung.aussen.zugang.access_token
    text = umgebung.config.read_text(encoding="utf-8")
    umgebung.config.write_text(
        text.replace('\npasswort = "', f'\nzugangstoken = "{fremd}"\n# passwort = "'),
        encoding="utf-8",
    )
    ergebnis = await asyncio.to_thread(
        subprocess.run,
        [str(KLIMABOT), "run", "--config", str(umgebung.config)],
        cwd=umgebung.config.parent,
        env=ohne_klimabot_umgebung(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ergebnis.returncode == 2, ergebnis.stderr
    assert f"gehört zu {umgebung.aussen.user_id}" in ergebnis.stderr
    assert fremd not in ergebnis.stderr


async def test_konfiguriertes_zugangstoken_genuegt(umgebung: Umgebung) -> None:
    await umgebung.stoppe_bot()
    zugang = umgebung.bot_zugang
    assert zugang is not None
    text = umgebung.config.read_text(encoding="utf-8").replace(
        '\npasswort = "', f'\nzugangstoken = "{zugang.access_token}"\n# passwort = "'
    )
    # Eigene Datenbank: kein gespeichertes Token, nur das konfigurierte.
    umgebung.config.write_text(text.replace("klimabot.db", "token.db"), encoding="utf-8")
    bot = await umgebung.starte_bot()
    assert bot.client.device_id == zugang.device_id
    frage = await umgebung.aussen.sende(umgebung.raum_energie, "!status energie")
    await umgebung.aussen.antwort_auf(frage, von=umgebung.bot_id)
    # Das Token steht in der Konfiguration; in der Datenbank liegt keines.
    async with bot.sitzungen() as sitzung:
        schluessel = instanzschluessel(ZUGANGSTOKEN, bot.einstellungen.instanz.name)
        assert await lies_zustand(sitzung, schluessel) is None
