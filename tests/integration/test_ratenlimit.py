"""M_LIMIT_EXCEEDED: der Bot wartet, wie der Homeserver sagt, und verliert keine Antwort."""

from __future__ import annotations

import logging
import secrets

import pytest

from tests.integration.umgebung import Umgebung


async def test_ratenlimit_verzoegert_antworten_verliert_aber_keine(
    gedrosselte_umgebung: Umgebung, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.zusteller")
    umgebung = gedrosselte_umgebung
    # Nur die fragende Person darf unbegrenzt senden; der Bot bleibt gedrosselt.
    admin = umgebung.homeserver.registriere(f"admin-{secrets.token_hex(4)}", "pw", admin=True)
    umgebung.homeserver.ratenlimit_aufheben(admin.access_token, umgebung.koordination.user_id)

    fragen = [
        await umgebung.koordination.sende(umgebung.raum_energie, "!status energie")
        for _ in range(12)
    ]
    for frage in fragen:
        await umgebung.koordination.antwort_auf(frage, von=umgebung.bot_id, frist=60)
    await umgebung.koordination.ruhe(1)
    antworten = umgebung.koordination.nachrichten_von(umgebung.bot_id, umgebung.raum_energie)
    bezuege = [a["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] for a in antworten]
    assert sorted(bezuege) == sorted(fragen)
    assert "Ratenlimit des Homeservers" in caplog.text
