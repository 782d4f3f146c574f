"""Absturz und Neustart: nichts doppelt, nichts verloren, keine Vorgeschichte beantwortet."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.integration.umgebung import Umgebung, antworten_auf, bot_prozess


async def test_bot_nach_sigkill_beantwortet_nichts_doppelt_und_holt_nach(
    umgebung: Umgebung,
) -> None:
    await umgebung.stoppe_bot()
    patin, raum, bot = umgebung.patin, umgebung.raum_energie, umgebung.bot_id

    with bot_prozess(umgebung.config) as prozess:
        vorher = await patin.sende(raum, "!meldung waermeplanung gelb 40% vor dem Absturz")
        assert await patin.reaktion_auf(vorher, von=bot, frist=30) == "✅"
        prozess.send_signal(signal.SIGKILL)
        prozess.wait(timeout=10)

    # Während der Bot weg ist, geht das Gespräch weiter.
    frage = await patin.sende(raum, "!status energie")
    meldung = await patin.sende(raum, "!meldung pv-offensive rot 10% in der Pause gemeldet")

    with bot_prozess(umgebung.config) as prozess:
        await patin.antwort_auf(frage, von=bot, frist=30)
        assert await patin.reaktion_auf(meldung, von=bot) == "✅"
        await patin.ruhe(2)
        prozess.send_signal(signal.SIGTERM)
        assert prozess.wait(timeout=20) == 0

    alle = [e for r, e in patin.gesehen if r == raum]
    assert len(antworten_auf(alle, vorher, bot)) == 1
    assert len(antworten_auf(alle, frage, bot)) == 1
    assert len(antworten_auf(alle, meldung, bot)) == 1
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
    assert antworten_auf(alle, alt, umgebung.bot_id) == []
