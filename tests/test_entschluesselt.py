"""Was aus einer verschlüsselten Nachricht werden darf: nur Nachricht oder Reaktion dieses Raums."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bot.client import VerworfenesEreignis, pruefe_entschluesseltes

RAUM = "!energie:muenster.de"
VERSCHLUESSELT = SimpleNamespace(
    event_id="$e1",
    sender="@max.mustermann:muenster.de",
    source={"type": "m.room.encrypted", "event_id": "$e1", "content": {"ciphertext": "…"}},
)


def _geprueft(klartext: dict[str, Any]) -> Any:
    return pruefe_entschluesseltes(VERSCHLUESSELT, SimpleNamespace(source=klartext), RAUM)


@pytest.mark.parametrize("typ", ["m.room.message", "m.reaction"])
def test_nachricht_und_reaktion_kommen_durch(typ: str) -> None:
    klar = {"type": typ, "room_id": RAUM, "content": {}}
    assert _geprueft(klar).source is klar


@pytest.mark.parametrize(
    "klartext",
    [
        {"type": "m.room.member", "state_key": "@x:y", "content": {"membership": "join"}},
        {"type": "m.room.redaction", "redacts": "$meldung", "content": {"redacts": "$meldung"}},
        {"type": "m.room.power_levels", "state_key": "", "content": {}},
        {"type": "m.room.message", "state_key": "", "content": {"body": "Zustand?"}},
        {"type": "m.room.message", "room_id": "!anderer:raum", "content": {"body": "!status"}},
        {"content": {"body": "ohne Typ"}},
    ],
    ids=[
        "mitgliedschaft",
        "loeschung",
        "zustand",
        "nachricht-mit-state-key",
        "anderer-raum",
        "ohne-typ",
    ],
)
def test_alles_andere_wird_verworfen(klartext: dict[str, Any]) -> None:
    verworfen = _geprueft(klartext)
    assert isinstance(verworfen, VerworfenesEreignis)
    # Vom Klartext bleibt nichts übrig, nur das verschlüsselte Original.
    assert verworfen.source == VERSCHLUESSELT.source
