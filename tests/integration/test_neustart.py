"""Absturz und Neustart: nichts doppelt, nichts verloren, keine Vorgeschichte beantwortet."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from demo.mensch import Rohereignis
from tests.integration.conftest import Umgebung

KLIMABOT = Path(sys.executable).parent / "klimabot"


@contextmanager
def _bot_prozess(config: Path) -> Iterator[subprocess.Popen[bytes]]:
    umgebung = {k: v for k, v in os.environ.items() if not k.startswith("KLIMABOT_")}
    protokoll = (config.parent / "bot.log").open("ab")
    prozess = subprocess.Popen(
        [str(KLIMABOT), "run", "--config", str(config)],
        cwd=config.parent,
        env=umgebung,
        stdout=protokoll,
        stderr=subprocess.STDOUT,
    )
    try:
        yield prozess
    finally:
        if prozess.poll() is None:
            prozess.kill()
        prozess.wait(timeout=10)
        protokoll.close()


def _antworten_auf(ereignisse: list[Rohereignis], event_id: str, bot: str) -> list[Rohereignis]:
    return [
        e
        for e in ereignisse
        if e.get("sender") == bot
        and (
            e["content"].get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id")
            == event_id
            or e["content"].get("m.relates_to", {}).get("event_id") == event_id
        )
    ]


async def test_bot_nach_sigkill_beantwortet_nichts_doppelt_und_holt_nach(
    umgebung: Umgebung,
) -> None:
    await umgebung.stoppe_bot()
    patin, raum, bot = umgebung.patin, umgebung.raum_energie, umgebung.bot_id

    with _bot_prozess(umgebung.config) as prozess:
        vorher = await patin.sende(raum, "!meldung waermeplanung gelb 40% vor dem Absturz")
        assert await patin.reaktion_auf(vorher, von=bot, frist=30) == "✅"
        prozess.send_signal(signal.SIGKILL)
        prozess.wait(timeout=10)

    # Während der Bot weg ist, geht das Gespräch weiter.
    frage = await patin.sende(raum, "!status energie")
    meldung = await patin.sende(raum, "!meldung pv-offensive rot 10% in der Pause gemeldet")

    with _bot_prozess(umgebung.config) as prozess:
        await patin.antwort_auf(frage, von=bot, frist=30)
        assert await patin.reaktion_auf(meldung, von=bot) == "✅"
        await patin.ruhe(2)
        prozess.send_signal(signal.SIGTERM)
        assert prozess.wait(timeout=20) == 0

    alle = [e for r, e in patin.gesehen if r == raum]
    assert len(_antworten_auf(alle, vorher, bot)) == 1
    assert len(_antworten_auf(alle, frage, bot)) == 1
    assert len(_antworten_auf(alle, meldung, bot)) == 1
    await umgebung.starte_bot()
    frage = await patin.sende(raum, "!status pv-offensive")
    stand = (await patin.antwort_auf(frage, von=bot))["content"]["body"]
    assert "🔴 rot" in stand
    assert "in der Pause gemeldet" in stand


async def test_vorgeschichte_wird_beim_ersten_start_nicht_beantwortet(
    umgebung: Umgebung, tmp_path: Path
) -> None:
    await umgebung.stoppe_bot()
    alt = await umgebung.patin.sende(umgebung.raum_energie, "!status energie")
    # Neue Datenbank: für den Bot ist es der allererste Start.
    config = umgebung.config.read_text(encoding="utf-8").replace("klimabot.db", "neu.db")
    umgebung.config.write_text(config, encoding="utf-8")
    await umgebung.starte_bot()
    neu = await umgebung.patin.sende(umgebung.raum_energie, "!status energie")
    await umgebung.patin.antwort_auf(neu, von=umgebung.bot_id)
    await asyncio.sleep(0.5)
    await umgebung.patin.synchronisiere(timeout_ms=0)
    alle = [e for _r, e in umgebung.patin.gesehen]
    assert _antworten_auf(alle, alt, umgebung.bot_id) == []
