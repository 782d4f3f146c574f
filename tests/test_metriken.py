"""Was der Betrieb sieht: Zähler für /metrics und die Gründe von /ready (ohne Homeserver)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from befehle import alle_befehle
from befehle.grundlagen import Anfrage, Antwort, befehl, keine_argumente
from bot.ausgang import NACHRICHT, einreihen
from bot.config import KonfigurationFehler, UeberwachungEinstellungen, lade_einstellungen
from bot.metriken import Betriebsart, Metriken
from bot.ueberwachung import Ueberwachung
from modelle.basis import jetzt
from modelle.datenbank import Sitzungsfabrik, erzeuge_engine, erzeuge_sitzungsfabrik
from modelle.tabellen import Ausgang
from tests.testbot import (
    AUSSENSTEHENDE,
    BERLIN,
    PATIN_ENERGIE,
    RAUM_STABSSTELLE,
    STABSSTELLE,
    Testbot,
)


def wert(metriken: Metriken, name: str, **labels: str) -> float:
    """Der Wert einer Zeitreihe (0, wenn es sie noch nicht gibt)."""
    gefunden = metriken.register.get_sample_value(name, labels)
    return 0.0 if gefunden is None else gefunden


# --- Befehle und Geplantes ---------------------------------------------------------------------


async def test_befehle_zaehlen_nach_name_und_ergebnis_mit_antwortzeit(testbot: Testbot) -> None:
    await testbot.sende("!status energie", als=AUSSENSTEHENDE)
    await testbot.sende("!st energie", als=PATIN_ENERGIE)  # Anfang des Namens: derselbe Befehl
    await testbot.sende("!status gibtsnicht", als=PATIN_ENERGIE)
    await testbot.sende("!bericht", als=PATIN_ENERGIE)  # darf nur die Stabsstelle
    await testbot.sende("!statsu", als=PATIN_ENERGIE)  # vertippt
    m = testbot.metriken
    assert wert(m, "klimabot_befehle_total", befehl="status", ergebnis="ok") == 2
    assert wert(m, "klimabot_befehle_total", befehl="status", ergebnis="benutzerfehler") == 1
    assert wert(m, "klimabot_befehle_total", befehl="bericht", ergebnis="verweigert") == 1
    assert wert(m, "klimabot_befehle_total", befehl="(unbekannt)", ergebnis="unbekannt") == 1
    assert wert(m, "klimabot_antwortzeit_sekunden_count") == 5
    assert wert(m, "klimabot_antwortzeit_sekunden_sum") > 0


async def test_ein_befehl_zaehlt_einmal_auch_wenn_er_erneut_kommt(testbot: Testbot) -> None:
    frage = await testbot.sende("!themen", als=STABSSTELLE)
    await testbot.ereignis(  # die Sync-Schleife bringt es nach einem Absturz noch einmal
        RAUM_STABSSTELLE,
        {"type": "m.room.message", "sender": STABSSTELLE, "event_id": frage.event_id,
         "content": {"msgtype": "m.text", "body": "!themen"}},
    )  # fmt: skip
    assert wert(testbot.metriken, "klimabot_befehle_total", befehl="themen", ergebnis="ok") == 1


@befehl(
    name="kaputt", kurz="wirft", hilfe="wirft immer", abschnitt="Test", argumente=keine_argumente
)
async def kaputt(anfrage: Anfrage, _argumente: None) -> Antwort:
    raise RuntimeError("Absicht")


async def test_interner_fehler_wird_gezaehlt(sitzungen: Sitzungsfabrik, testbot: Testbot) -> None:
    bot = Testbot(sitzungen, befehle=[*alle_befehle(), kaputt])
    antwort = await bot.sende("!kaputt", als=AUSSENSTEHENDE)
    assert antwort.text.startswith("Interner Fehler")
    assert wert(bot.metriken, "klimabot_befehle_total", befehl="kaputt", ergebnis="interner_fehler")


async def test_geplantes_zaehlt_eingereiht_und_ausgelassen_je_art(planbar: Testbot) -> None:
    await planbar.planer_durchgang(dt.datetime(2026, 11, 30, 9, 0, 30, tzinfo=BERLIN))
    m = planbar.metriken
    eingereiht = wert(m, "klimabot_geplant_total", art="abfrage", ergebnis="eingereiht")
    assert eingereiht >= 1
    # Mo 07.12. erst abends zurück: Nachholfrist vorbei, die Abfragen werden ausgelassen.
    await planbar.planer_durchgang(dt.datetime(2026, 12, 7, 22, 0, tzinfo=BERLIN))
    assert wert(m, "klimabot_geplant_total", art="abfrage", ergebnis="ausgelassen") == eingereiht
    assert wert(m, "klimabot_geplant_total", art="abfrage", ergebnis="eingereiht") == eingereiht


def test_alarmierte_zeitreihen_gibt_es_von_anfang_an_mit_null() -> None:
    m = Metriken()
    assert (
        m.register.get_sample_value(
            "klimabot_geplant_total", {"art": "wochenbericht", "ergebnis": "ausgelassen"}
        )
        == 0
    )
    assert m.register.get_sample_value("klimabot_datenbankfehler_total", {"teil": "sync"}) == 0


# --- /health, /ready, /metrics -----------------------------------------------------------------


class Monoton:
    """Eine monotone Uhr, die der Test stellt."""

    def __init__(self) -> None:
        self.sekunden = 1000.0

    def __call__(self) -> float:
        return self.sekunden


@pytest.fixture
async def ueberwacht(sitzungen: Sitzungsfabrik) -> AsyncIterator[tuple[Ueberwachung, Metriken]]:
    metriken = Metriken(uhr=Monoton())
    ueberwachung = Ueberwachung(
        UeberwachungEinstellungen(eingeschaltet=True, port=0), metriken, sitzungen
    )
    await ueberwachung.starte()
    try:
        yield ueberwachung, metriken
    finally:
        await ueberwachung.stoppe()


async def abrufen(ueberwachung: Ueberwachung, pfad: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as sitzung, sitzung.get(ueberwachung.url + pfad) as antwort:
        return antwort.status, await antwort.text()


async def bereit(ueberwachung: Ueberwachung) -> tuple[int, list[str]]:
    status, text = await abrufen(ueberwachung, "/ready")
    return status, json.loads(text)["gruende"]


async def test_health_antwortet_und_ready_erst_nach_dem_ersten_sync(
    ueberwacht: tuple[Ueberwachung, Metriken],
) -> None:
    ueberwachung, metriken = ueberwacht
    assert (await abrufen(ueberwachung, "/health"))[0] == 200
    assert await bereit(ueberwachung) == (503, ["noch kein Sync mit dem Homeserver gelungen"])
    metriken.sync_gelungen()
    assert await bereit(ueberwachung) == (200, [])


async def test_ready_meldet_einen_zu_alten_sync(
    ueberwacht: tuple[Ueberwachung, Metriken],
) -> None:
    ueberwachung, metriken = ueberwacht
    metriken.sync_gelungen()
    uhr = metriken._uhr
    assert isinstance(uhr, Monoton)
    uhr.sekunden += 121  # Vorgabe: höchstens 120 s
    status, gruende = await bereit(ueberwachung)
    assert status == 503
    assert gruende == ["letzter gelungener Sync vor 121 s (erlaubt: 120 s)"]


async def test_haengender_ausgangskorb_macht_nicht_bereit(
    sitzungen: Sitzungsfabrik, ueberwacht: tuple[Ueberwachung, Metriken]
) -> None:
    ueberwachung, metriken = ueberwacht
    metriken.sync_gelungen()
    async with sitzungen.begin() as sitzung:
        einreihen(sitzung, "!raum:x", NACHRICHT, {"body": "frisch"})
    assert (await bereit(ueberwachung))[0] == 200  # offen, aber jung: der Zusteller ist dran
    async with sitzungen.begin() as sitzung:
        await sitzung.execute(update(Ausgang).values(erstellt=jetzt() - dt.timedelta(minutes=6)))
    status, gruende = await bereit(ueberwachung)
    assert status == 503
    assert len(gruende) == 1
    assert gruende[0].startswith("Ausgangskorb hängt: 1 offen, der älteste seit 36")
    _, text = await abrufen(ueberwachung, "/metrics")
    werte = {
        probe.name: probe.value
        for familie in text_string_to_metric_families(text)
        for probe in familie.samples
    }
    assert werte["klimabot_ausgang_offen"] == 1
    assert werte["klimabot_ausgang_aeltester_sekunden"] >= 360


async def test_bereitschaft_ist_nicht_bereit_und_steht_in_den_metriken(
    ueberwacht: tuple[Ueberwachung, Metriken],
) -> None:
    ueberwachung, metriken = ueberwacht
    metriken.sync_gelungen()
    metriken.betriebsart = Betriebsart.BEREITSCHAFT
    status, text = await abrufen(ueberwachung, "/ready")
    assert status == 503
    assert json.loads(text) == {
        "bereit": False,
        "betriebsart": "bereitschaft",
        "gruende": ["Bereitschaft: eine andere Instanz ist aktiv"],
    }
    metriken_text = (await abrufen(ueberwachung, "/metrics"))[1]
    assert "klimabot_aktiv 0.0" in metriken_text
    assert "klimabot_bereit 0.0" in metriken_text
    metriken.betriebsart = Betriebsart.AKTIV
    assert (await bereit(ueberwachung))[0] == 200


async def test_ohne_datenbank_ist_der_bot_nicht_bereit_und_zaehlt_den_fehler() -> None:
    # Auf diesem Port lauscht nichts: die Verbindung wird sofort abgewiesen.
    engine = erzeuge_engine("postgresql+asyncpg://postgres@127.0.0.1:9/test")
    metriken = Metriken()
    metriken.sync_gelungen()
    ueberwachung = Ueberwachung(
        UeberwachungEinstellungen(eingeschaltet=True, port=0),
        metriken,
        erzeuge_sitzungsfabrik(engine),
    )
    await ueberwachung.starte()
    try:
        status, gruende = await bereit(ueberwachung)
        assert (await abrufen(ueberwachung, "/health"))[0] == 200
        assert (await abrufen(ueberwachung, "/metrics"))[0] == 200
    finally:
        await ueberwachung.stoppe()
        await engine.dispose()
    assert status == 503
    assert len(gruende) == 1
    assert gruende[0].startswith("Datenbank nicht erreichbar (")
    assert wert(metriken, "klimabot_datenbankfehler_total", teil="ueberwachung") == 2


async def test_belegter_port_ist_ein_fehler_der_konfiguration(
    ueberwacht: tuple[Ueberwachung, Metriken], sitzungen: Sitzungsfabrik
) -> None:
    belegt = int(ueberwacht[0].url.rsplit(":", 1)[1])
    zweite = Ueberwachung(UeberwachungEinstellungen(port=belegt), Metriken(), sitzungen)
    with pytest.raises(KonfigurationFehler) as fehler:
        await zweite.starte()
    assert fehler.value.probleme == [
        f"ueberwachung: 127.0.0.1:{belegt} nicht nutzbar (der Port ist belegt)"
    ]


# --- Konfiguration -----------------------------------------------------------------------------


def test_ueberwachung_ist_in_der_vorgabe_aus_und_nur_lokal() -> None:
    vorgabe = UeberwachungEinstellungen()
    assert not vorgabe.eingeschaltet
    assert vorgabe.adresse == "127.0.0.1"


def test_keine_ip_adresse_wird_deutsch_abgelehnt(tmp_path: Path) -> None:
    datei = tmp_path / "config.toml"
    datei.write_text('[ueberwachung]\nadresse = "localhost"\n', encoding="utf-8")
    with pytest.raises(KonfigurationFehler) as fehler:
        lade_einstellungen(datei)
    assert fehler.value.probleme == [
        'ueberwachung.adresse = "localhost": keine IP-Adresse (z. B. 127.0.0.1)'
    ]
