"""Nicht entschlüsselbare Nachrichten: ein Hinweis je Absender*in und Schlüsselsitzung.

Die Sync-Schleife (gegen Synapse in `tests/integration/test_verschluesselung.py`) gibt solche
Ereignisse an `Verarbeitung.nicht_entschluesselbar`; hier die Regeln dahinter, auf beiden
Datenbanken.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.ereignis import Ereignis
from demo.clientinhalt import textnachricht
from tests.testbot import KOORDINATION_ENERGIE, PATIN_ENERGIE, RAUM_ENERGIE, Testbot


def _verschluesselt(event_id: str, absender: str, sitzung: str, zeitpunkt: dt.datetime) -> Ereignis:
    roh: dict[str, Any] = {
        "type": "m.room.encrypted",
        "event_id": event_id,
        "sender": absender,
        "origin_server_ts": int(zeitpunkt.timestamp() * 1000),
        "content": {
            "algorithm": "m.megolm.v1.aes-sha2",
            "ciphertext": "AwgAEn…",
            "session_id": sitzung,
        },
    }
    ereignis = Ereignis.aus_json(RAUM_ENERGIE, roh)
    assert ereignis is not None
    return ereignis


async def _unlesbar(testbot: Testbot, event_id: str, absender: str, sitzung: str) -> list[str]:
    vorher = len(testbot.rekorder.gesendet)
    await testbot.verarbeitung.nicht_entschluesselbar(
        _verschluesselt(event_id, absender, sitzung, testbot.jetzt), sitzung
    )
    await testbot.zusteller.zustellen()
    return [g.text for g in testbot.rekorder.gesendet[vorher:]]


async def test_hinweis_einmal_je_absender_und_sitzung(testbot: Testbot) -> None:
    erste = await _unlesbar(testbot, "$u1", PATIN_ENERGIE, "sitzung-a")
    assert len(erste) == 1
    assert erste[0].startswith("Ich kann diese Nachricht nicht entschlüsseln")

    testbot.jetzt += dt.timedelta(minutes=1)  # höchstens ein Hinweis je Person und Minute
    assert await _unlesbar(testbot, "$u2", PATIN_ENERGIE, "sitzung-a") == []
    testbot.jetzt += dt.timedelta(minutes=1)
    assert len(await _unlesbar(testbot, "$u3", PATIN_ENERGIE, "sitzung-b")) == 1
    assert len(await _unlesbar(testbot, "$u4", KOORDINATION_ENERGIE, "sitzung-a")) == 1


async def test_hinweis_antwortet_auf_die_unlesbare_nachricht(testbot: Testbot) -> None:
    await _unlesbar(testbot, "$u1", PATIN_ENERGIE, "sitzung-a")
    hinweis = testbot.rekorder.gesendet[-1]
    assert hinweis.raum_id == RAUM_ENERGIE
    assert hinweis.inhalt["m.relates_to"]["m.in_reply_to"]["event_id"] == "$u1"
    assert "<p>" in hinweis.html


async def test_spaeter_entschluesselt_wird_die_nachricht_normal_beantwortet(
    testbot: Testbot,
) -> None:
    """Der Hinweis markiert die Nachricht nicht als behandelt: kommt der Schlüssel, zählt sie."""
    await _unlesbar(testbot, "$spaet", PATIN_ENERGIE, "sitzung-a")
    antwort = await testbot.ereignis(
        RAUM_ENERGIE,
        {
            "type": "m.room.message",
            "event_id": "$spaet",
            "sender": PATIN_ENERGIE,
            "content": textnachricht("!status energie"),
        },
    )
    assert "Kommunale Wärmeplanung" in antwort.text


async def test_hoechstens_ein_hinweis_je_minute_auch_bei_vielen_sitzungen(
    testbot: Testbot,
) -> None:
    """Wer (oder wessen kaputter Client) laufend neue Schlüsselsitzungen schickt, bekommt nicht
    für jede einen Hinweis."""
    hinweise = [
        await _unlesbar(testbot, f"$v{nummer}", PATIN_ENERGIE, f"sitzung-{nummer}")
        for nummer in range(30)
    ]
    assert [len(h) for h in hinweise] == [1] + [0] * 29
    assert len(await _unlesbar(testbot, "$andere", KOORDINATION_ENERGIE, "sitzung-x")) == 1
    testbot.jetzt += dt.timedelta(minutes=1)
    assert len(await _unlesbar(testbot, "$v99", PATIN_ENERGIE, "sitzung-99")) == 1
