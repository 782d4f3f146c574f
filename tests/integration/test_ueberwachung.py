"""Der Betrieb schaut zu: /health, /ready und /metrics des Bots an einem echten Synapse."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.umgebung import Umgebung, bot_prozess


async def _abrufen(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as sitzung, sitzung.get(url) as antwort:
        return antwort.status, await antwort.text()


async def _metriken(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, text = await _abrufen(url + "/metrics")
    assert status == 200
    return {
        (probe.name, tuple(sorted(probe.labels.items()))): probe.value
        for familie in text_string_to_metric_families(text)
        for probe in familie.samples
    }


async def test_metriken_bewegen_sich_und_ready_nach_dem_sync(umgebung: Umgebung) -> None:
    await umgebung.stoppe_bot()
    with umgebung.config.open("a", encoding="utf-8") as datei:
        datei.write("\n[ueberwachung]\neingeschaltet = true\nport = 0\n")
    bot = await umgebung.starte_bot()  # wartet auf den ersten Sync
    assert bot.ueberwachung is not None
    url = bot.ueberwachung.url
    assert url.startswith("http://127.0.0.1:")

    assert (await _abrufen(url + "/health"))[0] == 200
    status, text = await _abrufen(url + "/ready")
    assert (status, json.loads(text)) == (
        200,
        {"bereit": True, "betriebsart": "aktiv", "gruende": []},
    )

    ok = ("klimabot_befehle_total", (("befehl", "status"), ("ergebnis", "ok")))
    anzahl = ("klimabot_antwortzeit_sekunden_count", ())
    vorher = await _metriken(url)
    assert vorher[("klimabot_aktiv", ())] == 1
    assert vorher[("klimabot_bereit", ())] == 1
    assert 0 <= vorher[("klimabot_sync_verzug_sekunden", ())] < 60

    frage = await umgebung.koordination.sende(umgebung.raum_energie, "!status energie")
    await umgebung.koordination.antwort_auf(frage, von=umgebung.bot_id)

    nachher = await _metriken(url)
    assert nachher[ok] == vorher.get(ok, 0) + 1
    assert nachher[anzahl] == vorher[anzahl] + 1
    # Gerade gesendet heißt nicht schon als gesendet vermerkt: nur, dass gezählt wird.
    assert nachher[("klimabot_ausgang_offen", ())] >= 0
    assert nachher[("klimabot_nicht_entschluesselbar_total", ())] == 0


def _freier_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_klimabot_run_protokolliert_json_ohne_geheimnis_und_wird_bereit(
    umgebung: Umgebung,
) -> None:
    await umgebung.stoppe_bot()
    assert umgebung.bot_zugang is not None
    port = _freier_port()
    config = umgebung.config.read_text(encoding="utf-8")
    umgebung.config.write_text(
        config.replace("[bot]\n", '[bot]\nprotokollformat = "json"\n')
        + f"\n[ueberwachung]\neingeschaltet = true\nport = {port}\n",
        encoding="utf-8",
    )
    url = f"http://127.0.0.1:{port}"
    with bot_prozess(umgebung.config) as prozess:
        for _ in range(300):
            with contextlib.suppress(aiohttp.ClientError):
                if (await _abrufen(url + "/ready"))[0] == 200:
                    break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("/ready wurde nicht 200")
        frage = await umgebung.patin.sende(umgebung.raum_energie, "!status energie")
        await umgebung.patin.antwort_auf(frage, von=umgebung.bot_id)
        prozess.send_signal(signal.SIGTERM)
        assert prozess.wait(timeout=20) == 0

    text = (umgebung.config.parent / "bot.log").read_text(encoding="utf-8")
    assert umgebung.bot_zugang.passwort not in text
    saetze = [json.loads(zeile) for zeile in text.splitlines()]  # jede Zeile ein Objekt
    assert {"time", "level", "logger", "message"} <= saetze[0].keys()
    assert any(s["message"].startswith("Überwachung erreichbar unter ") for s in saetze)
    assert saetze[-1]["message"] == "Klimabot beendet"
