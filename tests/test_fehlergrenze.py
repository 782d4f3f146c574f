"""Die Fehlergrenze: ein kaputter Handler beendet nichts, die Person bekommt eine Referenz."""

from __future__ import annotations

import logging

import pytest

from befehle import alle_befehle
from befehle.grundlagen import Anfrage, Antwort, befehl, keine_argumente
from bot.ereignis import Ereignis
from modelle.datenbank import Sitzungsfabrik
from tests.testbot import AUSSENSTEHENDE, PATIN_ENERGIE, RAUM_ENERGIE, Testbot


@befehl(
    name="kaputt", kurz="wirft", hilfe="wirft immer", abschnitt="Test", argumente=keine_argumente
)
async def kaputt(anfrage: Anfrage, _argumente: None) -> Antwort:
    raise RuntimeError("Absicht")


@pytest.fixture
def bot_mit_kaputtem_befehl(sitzungen: Sitzungsfabrik, testbot: Testbot) -> Testbot:
    """Der Testbot (mit seiner Struktur) und zusätzlich dem Befehl `!kaputt`."""
    return Testbot(sitzungen, befehle=[*alle_befehle(), kaputt])


async def test_handlerfehler_gibt_referenz_und_es_geht_weiter(
    bot_mit_kaputtem_befehl: Testbot, caplog: pytest.LogCaptureFixture
) -> None:
    testbot = bot_mit_kaputtem_befehl
    with caplog.at_level(logging.ERROR):
        antwort = await testbot.sende("!kaputt", als=AUSSENSTEHENDE)
    assert antwort.text.startswith("Interner Fehler (Ref. ")
    referenz = antwort.text.split("Ref. ")[1][:4]
    assert referenz in caplog.text
    assert "RuntimeError: Absicht" in caplog.text
    assert "Themenfeld Energie" in (await testbot.sende("!status energie", als=AUSSENSTEHENDE)).text


@pytest.mark.parametrize(
    "roh",
    [
        {"type": "m.room.message", "sender": "@a:b", "content": {"body": None}},
        {"type": "m.room.message", "sender": "@a:b", "content": {"msgtype": "m.image"}},
        {"type": "m.room.message", "sender": "@a:b", "content": {"body": "!"}},
        {
            "type": "m.room.message",
            "sender": "@a:b",
            "content": {"body": "hallo", "m.relates_to": 5},
        },
        {"type": "m.reaction", "sender": "@a:b", "content": {"m.relates_to": {"key": "🟢"}}},
        {
            "type": "m.room.message",
            "sender": "@a:b",
            "content": {"m.relates_to": {"rel_type": "m.replace"}},
        },
        {"type": "m.room.redaction", "sender": "@a:b", "content": {}, "redacts": "$gibtsnicht"},
    ],
    ids=[
        "body-null",
        "ohne-body",
        "nur-praefix",
        "kaputte-beziehung",
        "reaktion-ohne-ziel",
        "bearbeitung-ohne-ziel",
        "loeschung-unbekannt",
    ],
)
async def test_kaputte_ereignisse_werden_still_uebergangen(
    testbot: Testbot, roh: dict[str, object]
) -> None:
    antwort = await testbot.ereignis(RAUM_ENERGIE, dict(roh))
    assert antwort.alle == []


def test_ereignis_ohne_pflichtfelder_wird_nicht_gelesen() -> None:
    assert Ereignis.aus_json("!r:x", {"type": "m.room.message", "content": {}}) is None
    assert (
        Ereignis.aus_json(
            "!r:x",
            {"event_id": "$e", "sender": "@a:b", "type": "x", "content": [], "origin_server_ts": 1},
        )
        is None
    )


async def test_eigene_nachrichten_des_bots_werden_ignoriert(testbot: Testbot) -> None:
    from tests.testbot import BOT

    antwort = await testbot.sende("!status energie", als=BOT)
    assert antwort.alle == []
    assert (await testbot.sende("!meldung waermeplanung gelb", als=PATIN_ENERGIE)).reaktionen == [
        "✅"
    ]


@pytest.mark.parametrize(
    "zeitstempel",
    [253_402_300_799_999, -62_135_596_800_000, 0],
    ids=["jahr-9999", "jahr-1", "1970"],
)
async def test_meldung_mit_unmoeglichem_zeitstempel_legt_den_status_nicht_lahm(
    testbot: Testbot, zeitstempel: int
) -> None:
    # Gefunden vom Fuzzing: den Zeitstempel setzt der Server des Absenders. Eine Meldung vom
    # 31.12.9999 wurde gespeichert, und danach scheiterte jeder `!status energie`.
    roh = {
        "type": "m.room.message",
        "event_id": "$aus-der-zukunft",
        "sender": PATIN_ENERGIE,
        "origin_server_ts": zeitstempel,
        "content": {"msgtype": "m.text", "body": "!meldung waermeplanung rot"},
    }
    ereignis = Ereignis.aus_json(RAUM_ENERGIE, roh)
    assert ereignis is None
    status = await testbot.sende("!status energie", als=AUSSENSTEHENDE)
    assert "Themenfeld Energie" in status.text
