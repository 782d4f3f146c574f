"""Zwei `klimabot run` auf einer Datenbank: eine aktive Instanz, eine Bereitschaft, die nach
`kill -9` der aktiven übernimmt – jede als ihr eigenes Gerät, nichts doppelt, nichts verloren."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from nio import AsyncClient, LoginResponse
from sqlalchemy.engine import make_url

from bot.app import bereitschaft_anmelden
from bot.ausgang import antwort_txn_id
from bot.config import InstanzEinstellungen, lade_einstellungen
from bot.niotransport import NioTransport
from demo.homeserver import LokalerHomeserver
from tests import datenbanken
from tests.integration.umgebung import (
    Umgebung,
    antworten_auf,
    baue_umgebung,
    bot_prozess,
    protokoll_von,
    warte_auf_zeile,
)


def _zeile(inhalt: str, text: str) -> str:
    return next(z for z in inhalt.splitlines() if text in z)


async def _auf_postgresql(umgebung: Umgebung, postgres_url: str) -> None:
    """Hält den Bot der Umgebung an und stellt ihre Konfiguration auf PostgreSQL um: die
    Übungen mit zwei Prozessen laufen wie im Betrieb mit einer Bereitschaft."""
    await umgebung.stoppe_bot()
    text = umgebung.config.read_text(encoding="utf-8")
    alt = text.split('url = "', 1)[1].split('"', 1)[0]
    umgebung.config.write_text(text.replace(alt, postgres_url), encoding="utf-8")


async def test_bereitschaft_liest_im_verschluesselten_raum_was_waehrend_ihrer_bereitschaft_kam(
    verschluesselte_umgebung: Umgebung,
) -> None:
    """Die Bereitschaft ist ihr eigenes Gerät und meldet sich vorher an: die Raumschlüssel der
    Nachrichten aus ihrer Bereitschaftszeit warten beim Homeserver auf sie. Die aktive Instanz
    steht still (SIGSTOP), während die Fragen kommen, und stirbt dann (SIGKILL)."""
    umgebung = verschluesselte_umgebung
    await umgebung.stoppe_bot()
    patin, raum, bot = umgebung.patin, umgebung.raum_energie, umgebung.bot_id
    ordner = umgebung.config.parent

    with bot_prozess(umgebung.config, "--instanz", "a", protokoll_datei="a.log") as aktive:
        await warte_auf_zeile(ordner / "a.log", "ist bereit")
        vorher = await patin.sende(raum, "!status energie")
        await patin.antwort_auf(vorher, von=bot, frist=30)
        with bot_prozess(umgebung.config, "--instanz", "b", protokoll_datei="b.log") as bereit:
            protokoll = await warte_auf_zeile(ordner / "b.log", "Bereitschaft angemeldet")
            geraet_b = _zeile(protokoll, "Bereitschaft angemeldet").split("Gerät ")[1].split()[0]
            geraet_a = (
                _zeile(protokoll_von(ordner / "a.log"), "Klimabot läuft als")
                .split("Gerät ")[1]
                .rstrip(")")
            )
            assert geraet_a != geraet_b
            aktive.send_signal(signal.SIGSTOP)
            fragen = [
                await patin.sende(raum, "!status energie"),
                await patin.sende(raum, "!meldung waermeplanung gelb 40% während der Übernahme"),
            ]
            getoetet = time.monotonic()
            aktive.send_signal(signal.SIGKILL)
            aktive.wait(timeout=10)
            await patin.antwort_auf(fragen[0], von=bot, frist=30)
            assert await patin.reaktion_auf(fragen[1], von=bot, frist=30) == "✅"
            print(f"\nÜbernahme im verschlüsselten Raum: {time.monotonic() - getoetet:.1f} s")
            await patin.ruhe(2)
            protokoll = protokoll_von(ordner / "b.log")
            print(_zeile(protokoll, "übernimmt nach"))
            assert f"Gerät {geraet_b}" in _zeile(protokoll, "Klimabot läuft als")
            assert "nicht entschlüsselbar" not in protokoll
            bereit.send_signal(signal.SIGTERM)
            assert bereit.wait(timeout=20) == 0

    alle = [e for r, e in patin.gesehen if r == raum]
    for event_id in (vorher, *fragen):
        assert len(antworten_auf(alle, event_id, bot)) == 1, event_id


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> str:
    """Eine leere, migrierte PostgreSQL-Datenbank dieses Testlaufs."""
    lauf: str | None = request.getfixturevalue("_postgres_lauf")
    if lauf is None:
        datenbanken.ohne_postgres_ueberspringen()
    datenbanken.postgres_leeren(lauf)
    return lauf


@pytest.fixture(params=["offen", "verschlüsselt"])
async def raum_je_art(
    request: pytest.FixtureRequest, homeserver: LokalerHomeserver, tmp_path: Path
) -> AsyncIterator[Umgebung]:
    async for fertig in baue_umgebung(
        homeserver, tmp_path, verschluesselt=request.param == "verschlüsselt"
    ):
        yield fertig


async def test_uebung_kill_9_mitten_im_befehlsstoss_auf_postgresql(
    raum_je_art: Umgebung, postgres_url: str
) -> None:
    """Die Übung aus dem Betrieb: zwei Prozesse auf PostgreSQL, ein Stoß Befehle, die aktive
    Instanz stirbt mittendrin. Jeder Befehl bekommt genau eine Antwort – auch der, dessen
    Antwort die sterbende noch sandte, aber nicht mehr als gesendet vermerkte."""
    umgebung = raum_je_art
    raumart = "verschlüsselt" if umgebung.patin.client.olm is not None else "offen"
    await _auf_postgresql(umgebung, postgres_url)
    patin, raum, bot = umgebung.patin, umgebung.raum_energie, umgebung.bot_id
    ordner = umgebung.config.parent

    with bot_prozess(umgebung.config, "--instanz", "a", protokoll_datei="a.log") as aktive:
        await warte_auf_zeile(ordner / "a.log", "ist bereit")
        warm = await patin.sende(raum, "!status energie")
        await patin.antwort_auf(warm, von=bot, frist=30)
        with bot_prozess(umgebung.config, "--instanz", "b", protokoll_datei="b.log") as bereit:
            await warte_auf_zeile(ordner / "b.log", "Bereitschaft angemeldet")
            stoss = [await patin.sende(raum, f"!status energie {n}") for n in range(6)]
            await patin.antwort_auf(stoss[0], von=bot, frist=30)
            getoetet = time.monotonic()
            aktive.send_signal(signal.SIGKILL)
            aktive.wait(timeout=10)
            stoss += [await patin.sende(raum, f"!status energie {n}") for n in range(6, 12)]
            for event_id in stoss:
                await patin.antwort_auf(event_id, von=bot, frist=30)
            # Antworten gehen schon im ersten Stapel hinaus, „bereit“ steht erst danach.
            protokoll = await warte_auf_zeile(ordner / "b.log", "Übernahme abgeschlossen")
            print(
                f"\nÜbung kill -9 (PostgreSQL, {raumart}): alle {len(stoss)} Befehle beantwortet "
                f"{time.monotonic() - getoetet:.1f} s nach SIGKILL; "
                f"{_zeile(protokoll, 'Übernahme abgeschlossen').split(': ', 1)[-1]}"
            )
            await patin.ruhe(3)
            bereit.send_signal(signal.SIGTERM)
            assert bereit.wait(timeout=20) == 0

    alle = [e for r, e in patin.gesehen if r == raum]
    for event_id in (warm, *stoss):
        assert len(antworten_auf(alle, event_id, bot)) == 1, event_id


async def test_uebernehmendes_geraet_erkennt_verschluesselt_gesendetes_am_ausgangskennung(
    verschluesselte_umgebung: Umgebung,
) -> None:
    """Was die vorige Instanz im verschlüsselten Raum sandte, kann die übernehmende nicht
    entschlüsseln (der Bot gibt seinen eigenen Geräten keine Raumschlüssel) – die Kennung des
    Ausgangskorbs steht darum auch außen am Ereignis."""
    umgebung = verschluesselte_umgebung
    assert umgebung.bot is not None
    assert umgebung.bot_zugang is not None
    raum = umgebung.raum_energie
    frage = await umgebung.patin.sende(raum, "!status energie")
    antwort = await umgebung.patin.antwort_auf(frage, von=umgebung.bot_id)
    # Die Antwort auf einen Befehl trägt die aus seiner Event-ID abgeleitete Transaktions-ID.
    txn_id = antwort_txn_id(frage)
    anderes_geraet = AsyncClient(umgebung.homeserver.url, umgebung.bot_id)
    try:
        anmeldung = await anderes_geraet.login(umgebung.bot_zugang.passwort)
        assert isinstance(anmeldung, LoginResponse)
        assert anmeldung.device_id != umgebung.bot.client.device_id
        gefunden = await NioTransport(anderes_geraet).schon_gesendet(
            raum, {txn_id, "klimabot-nie-gesendet"}
        )
    finally:
        await anderes_geraet.close()
    assert gefunden == {txn_id: antwort["event_id"]}


async def test_verliert_die_aktive_ihre_sperre_haelt_sie_an_und_die_bereitschaft_uebernimmt(
    umgebung: Umgebung, postgres_url: str
) -> None:
    """Die Sitzung der aktiven Instanz bei PostgreSQL endet (Verbindung abgerissen, vom Server
    beendet): sie endet mit Fehler (Exit-Code 1, der Dienstverwalter startet sie neu, dann als
    Bereitschaft), die Bereitschaft übernimmt, nichts wird doppelt beantwortet."""
    await _auf_postgresql(umgebung, postgres_url)
    patin, raum, bot = umgebung.patin, umgebung.raum_energie, umgebung.bot_id
    ordner = umgebung.config.parent

    with bot_prozess(umgebung.config, "--instanz", "a", protokoll_datei="a.log") as aktive:
        await warte_auf_zeile(ordner / "a.log", "ist bereit")
        with bot_prozess(umgebung.config, "--instanz", "b", protokoll_datei="b.log") as bereit:
            await warte_auf_zeile(ordner / "b.log", "Bereitschaft angemeldet")
            verbindung = await asyncpg.connect(
                make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
            )
            try:
                beendet = await verbindung.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'klimabot a'"
                )
            finally:
                await verbindung.close()
            assert beendet == 1
            abgerissen = time.monotonic()
            assert await asyncio.to_thread(aktive.wait, 15) == 1
            print(f"\nAktive Instanz hielt {time.monotonic() - abgerissen:.1f} s nach an")
            assert "Instanzsperre verloren" in protokoll_von(ordner / "a.log")
            frage = await patin.sende(raum, "!status energie")
            await patin.antwort_auf(frage, von=bot, frist=30)
            await patin.ruhe(2)
            bereit.send_signal(signal.SIGTERM)
            assert bereit.wait(timeout=20) == 0
    alle = [e for r, e in patin.gesehen if r == raum]
    assert len(antworten_auf(alle, frage, bot)) == 1


async def test_bereitschaft_laedt_verbrauchte_einmalschluessel_nach(
    umgebung: Umgebung, caplog: pytest.LogCaptureFixture
) -> None:
    """Jedes Gerät einer Person, das der wartenden Bereitschaft einen Raumschlüssel gibt,
    verbraucht einen ihrer Einmalschlüssel. Sie liest nicht, also fragt sie selbst nach."""
    caplog.set_level(logging.INFO, logger="bot.app")
    einstellungen = lade_einstellungen(umgebung.config)
    einstellungen = einstellungen.model_copy(
        update={"instanz": InstanzEinstellungen(name="bereitschaft")}
    )
    dienst = asyncio.create_task(bereitschaft_anmelden(einstellungen, pflegeabstand=0.2))
    try:
        for _ in range(100):
            if "Bereitschaft angemeldet als Gerät" in caplog.text:
                break
            await asyncio.sleep(0.1)
        geraet = caplog.text.split("Bereitschaft angemeldet als Gerät ")[1].split()[0]
        async with aiohttp.ClientSession() as http:
            for _ in range(7):
                async with http.post(
                    f"{umgebung.homeserver.url}/_matrix/client/v3/keys/claim",
                    headers={"Authorization": f"Bearer {umgebung.patin.client.access_token}"},
                    json={"one_time_keys": {umgebung.bot_id: {geraet: "signed_curve25519"}}},
                ) as antwort:
                    beansprucht = (await antwort.json())["one_time_keys"]
                    assert beansprucht[umgebung.bot_id][geraet], "kein Einmalschlüssel mehr da"
        for _ in range(100):
            if "Einmalschlüssel nachgeladen" in caplog.text:
                break
            await asyncio.sleep(0.1)
        assert "Bereitschaft: 7 Einmalschlüssel nachgeladen" in caplog.text
    finally:
        dienst.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await dienst
