"""Gegen echten Synapse: gesichert im Betrieb, an einem neuen Ort wiederhergestellt – und der
Bot läuft dort als dasselbe Gerät weiter, liest verschlüsselt mit und antwortet nichts doppelt."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from nio import DevicesResponse

from tests.integration.umgebung import Umgebung, antworten_auf
from tests.kommandozeile import klimabot


async def _geraete(umgebung: Umgebung) -> set[str]:
    assert umgebung.bot is not None
    antwort = await umgebung.bot.client.devices()
    assert isinstance(antwort, DevicesResponse), antwort
    return {g.id for g in antwort.devices}


async def test_wiederhergestellter_bot_ist_dasselbe_geraet_liest_mit_und_antwortet_nichts_doppelt(
    verschluesselte_umgebung: Umgebung, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Die Sync-Position der Sicherung liegt sicher vor allem, was der Bot danach behandelt: der
    # wiederhergestellte Bot bekommt es also noch einmal vom Server und darf es nicht beantworten.
    monkeypatch.setattr("bot.sync.POSITION_SPEICHERN_S", 3600.0)
    umgebung = verschluesselte_umgebung
    patin, raum, bot_id = umgebung.patin, umgebung.raum_energie, umgebung.bot_id
    assert umgebung.bot is not None
    geraet, token = umgebung.bot.client.device_id, umgebung.bot.client.access_token
    geraete = await _geraete(umgebung)

    # Vor der Sicherung behandelt: eine Meldung und eine Frage.
    meldung = await patin.sende(raum, "!meldung waermeplanung gelb 40% vor der Sicherung")
    assert await patin.reaktion_auf(meldung, von=bot_id) == "✅"
    frage = await patin.sende(raum, "!status energie")
    await patin.antwort_auf(frage, von=bot_id)

    # Gesichert, während der Bot läuft – von der Kommandozeile, wie im Betrieb.
    sicherung = tmp_path / "sicherung.tar.gz"
    gesichert = await asyncio.to_thread(
        klimabot, "sicherung", str(sicherung), "--config", str(umgebung.config), ordner=tmp_path
    )
    assert gesichert.returncode == 0, gesichert.stderr
    await umgebung.stoppe_bot()
    # Während der Bot weg ist, geht das Gespräch weiter.
    in_der_pause = await patin.sende(raum, "!themen")

    # Ein neuer Ort (ein anderer Rechner, eine neue Platte): Datenbank und Schlüsselspeicher
    # kommen allein aus der Sicherung.
    neu = tmp_path / "neu"
    neu.mkdir()
    shutil.copy(tmp_path / "struktur.toml", neu / "struktur.toml")
    config = neu / "config.toml"
    config.write_text(
        umgebung.config.read_text(encoding="utf-8").replace(
            str(tmp_path / "klimabot.db"), str(neu / "klimabot.db")
        ),
        encoding="utf-8",
    )
    wieder = await asyncio.to_thread(
        klimabot, "wiederherstellen", str(sicherung), "--config", str(config), ordner=neu
    )
    assert wieder.returncode == 0, wieder.stderr
    assert (neu / "klimabot-schluessel").is_dir()

    umgebung.config = config
    bot = await umgebung.starte_bot()
    assert bot.client.device_id == geraet
    assert bot.client.access_token == token, "keine neue Anmeldung"
    assert await _geraete(umgebung) == geraete, "kein neues Gerät"

    await patin.antwort_auf(in_der_pause, von=bot_id, frist=30)
    frage_danach = await patin.sende(raum, "!status waermeplanung")
    stand = await patin.antwort_auf(frage_danach, von=bot_id)
    assert "vor der Sicherung" in stand["content"]["body"]
    await patin.ruhe(2)
    alle = [e for r, e in patin.gesehen if r == raum]
    for event_id in (meldung, frage, in_der_pause, frage_danach):
        assert len(antworten_auf(alle, event_id, bot_id)) == 1, event_id
