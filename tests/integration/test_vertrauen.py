"""Gegen echten Synapse: wem der Bot vertraut – Räume, Raumschlüssel, Löschungen, Entschlüsseltes.

Der Bot vertraut nur der Struktur: in welchen Räumen er sitzt, welche Geräte Raumschlüssel
bekommen, wer eine Meldung ändern oder zurückziehen darf. Nie Power-Levels, Anzeigenamen
oder dem, was der Inhalt einer verschlüsselten Nachricht über sich behauptet.
"""

from __future__ import annotations

import pytest

from tests.integration.conftest import Umgebung


async def _status(umgebung: Umgebung, projekt: str) -> str:
    frage = await umgebung.patin.sende(umgebung.raum_energie, f"!status {projekt}")
    antwort = await umgebung.patin.antwort_auf(frage, von=umgebung.bot_id)
    return str(antwort["content"]["body"])


async def test_verschluesselt_gefaelschte_mitgliedschaft_und_loeschung_wirken_nicht(
    verschluesselte_umgebung: Umgebung, caplog: pytest.LogCaptureFixture
) -> None:
    umgebung = verschluesselte_umgebung
    assert umgebung.bot is not None
    meldung = await umgebung.patin.sende(
        umgebung.raum_energie, "!meldung waermeplanung rot 10% Förderung fehlt"
    )
    assert await umgebung.patin.reaktion_auf(meldung, von=umgebung.bot_id) == "✅"

    # Ein Raummitglied verschlüsselt, was sonst nur der Server im Klartext schickt.
    fremd = "@eindringling:anderswo.example"
    await umgebung.aussen.sende_gefaelscht(
        umgebung.raum_energie,
        {"type": "m.room.member", "state_key": fremd, "content": {"membership": "join"}},
    )
    await umgebung.aussen.sende_gefaelscht(
        umgebung.raum_energie,
        {"type": "m.room.redaction", "redacts": meldung, "content": {"redacts": meldung}},
    )

    assert "🔴 rot" in await _status(umgebung, "waermeplanung")
    assert fremd not in umgebung.bot.client.rooms[umgebung.raum_energie].users
    assert "gibt sich als 'm.room.member' aus" in caplog.text
    assert "gibt sich als 'm.room.redaction' aus" in caplog.text
