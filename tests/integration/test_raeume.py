"""Gegen echten Synapse: in welchen Räumen der Bot sitzt, und wann er dort handelt.

Er sitzt in den Räumen der Struktur und in Direkträumen ihrer Personen – in keinem anderen,
auch wenn ihn jemand vom erlaubten Server einlädt.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from nio import RoomCreateResponse
from sqlalchemy import select, update

from bot.cli import main
from demo.mensch import Mensch, Rohereignis
from modelle.tabellen import Raum, Themenfeld, Versand
from modelle.termine import naechster_arbeitstag
from tests.integration.umgebung import Umgebung

BERLIN = ZoneInfo("Europe/Berlin")


def _mitgliedschaft(bot_id: str, raum: str, stand: str) -> Any:
    def passt(r: str, e: Rohereignis) -> bool:
        return (
            r == raum
            and e.get("type") == "m.room.member"
            and e.get("state_key") == bot_id
            and e.get("content", {}).get("membership") == stand
        )

    return passt


async def test_einladung_in_einen_raum_ausserhalb_der_struktur_wird_abgelehnt(
    umgebung: Umgebung, caplog: pytest.LogCaptureFixture
) -> None:
    # Die Pat*in darf einladen (matrix.einladungen_von), ihr eigener Raum gehört aber nicht
    # zur Struktur: der Bot lehnt ab.
    caplog.set_level(logging.INFO, logger="bot.raeume")
    eigener = await umgebung.patin.raum_anlegen(einladen=[umgebung.bot_id], name="Privat")
    await umgebung.patin.warte_auf(_mitgliedschaft(umgebung.bot_id, eigener, "leave"))
    assert "abgelehnt: kein Raum der Struktur" in caplog.text


async def test_direktraum_einer_person_der_struktur_nimmt_der_bot_an_und_antwortet(
    umgebung: Umgebung,
) -> None:
    patin = umgebung.patin
    antwort = await patin.client.room_create(is_direct=True, invite=[umgebung.bot_id])
    assert isinstance(antwort, RoomCreateResponse), antwort
    direkt = str(antwort.room_id)
    await patin.warte_auf(_mitgliedschaft(umgebung.bot_id, direkt, "join"))
    frage = await patin.sende(direkt, "!status energie")
    status = await patin.antwort_auf(frage, von=umgebung.bot_id)
    assert "Kommunale Wärmeplanung" in status["content"]["body"]


async def test_raum_den_die_struktur_nicht_mehr_nennt_verlaesst_der_bot(
    umgebung: Umgebung, caplog: pytest.LogCaptureFixture
) -> None:
    assert umgebung.bot is not None
    caplog.set_level(logging.INFO, logger="bot.raeume")
    async with umgebung.bot.sitzungen.begin() as sitzung:
        await sitzung.execute(
            update(Themenfeld).where(Themenfeld.slug == "mobilitaet").values(archiviert=True)
        )
    await umgebung.bot.raeume.abgleichen()
    raum = umgebung.raum_mobilitaet
    await umgebung.patin_mobilitaet.warte_auf(_mitgliedschaft(umgebung.bot_id, raum, "leave"))
    assert f"Raum {raum} verlassen: gehört nicht (mehr) zur Struktur" in caplog.text
    # Der Energie-Raum bleibt.
    frage = await umgebung.patin.sende(umgebung.raum_energie, "!status energie")
    await umgebung.patin.antwort_auf(frage, von=umgebung.bot_id)


async def test_abfrage_wartet_bis_der_bot_im_raum_ist_und_kommt_dann(
    umgebung: Umgebung, caplog: pytest.LogCaptureFixture
) -> None:
    # Das Themenfeld bekommt einen neuen Raum, in den der Bot (noch) nicht eingeladen ist.
    assert umgebung.bot is not None
    patin: Mensch = umgebung.patin
    neu = await patin.raum_anlegen(einladen=[], name="Energie (neu)")
    async with umgebung.bot.sitzungen.begin() as sitzung:
        feld = await sitzung.scalar(select(Themenfeld.id).where(Themenfeld.slug == "energie"))
        await sitzung.execute(
            update(Raum).where(Raum.themenfeld_id == feld).values(adresse=neu, raum_id=None)
        )
        await sitzung.execute(
            update(Themenfeld).where(Themenfeld.id == feld).values(abfrage="täglich 09:00")
        )
    await umgebung.bot.raeume.abgleichen()

    morgen = naechster_arbeitstag(dt.datetime.now(BERLIN).date() + dt.timedelta(days=1))
    termin = dt.datetime.combine(morgen, dt.time(9, 0, 30), tzinfo=BERLIN)
    await umgebung.planer(termin).pruefe()
    async with umgebung.bot.sitzungen() as sitzung:
        vermerkt = await sitzung.scalars(select(Versand.schluessel))
        assert not [v for v in vermerkt if v.startswith("abfrage:energie")]
    assert "wartet: der Bot ist (noch) nicht im Raum" in caplog.text

    # Eine Stunde später lädt die Pat*in ihn ein: er tritt bei, die Abfrage kommt verspätet.
    einladung = await patin.client.room_invite(neu, umgebung.bot_id)
    assert type(einladung).__name__ == "RoomInviteResponse", einladung
    await patin.warte_auf(_mitgliedschaft(umgebung.bot_id, neu, "join"))
    for _ in range(100):
        async with umgebung.bot.sitzungen() as sitzung:
            if await sitzung.scalar(select(Raum.raum_id).where(Raum.adresse == neu)) == neu:
                break
        await asyncio.sleep(0.1)
    await umgebung.planer(termin + dt.timedelta(hours=1)).pruefe()
    kopf = await patin.warte_auf(
        lambda r, e: r == neu and "Fortschrittsabfrage" in str(e.get("content", {}).get("body"))
    )
    assert "verspätet" in kopf["content"]["body"]


async def test_fremde_mitglieder_stehen_im_protokoll_und_bei_klimabot_check(
    umgebung: Umgebung, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    # In der Test-Konfiguration dürfen nur die beiden Pat*innen einladen (einladungen_von);
    # im Energie-Raum sitzen auch Koordination und eine Person ohne Rolle.
    assert umgebung.bot is not None
    erwartet = sorted([umgebung.aussen.user_id, umgebung.koordination.user_id])
    # Gesehen hat der Bot es schon beim Start (in der Fixture).
    protokoll = "\n".join(
        r.getMessage() for phase in ("setup", "call") for r in caplog.get_records(phase)
    )
    assert f"sitzen Konten außerhalb von matrix.einladungen_von: {', '.join(erwartet)}" in (
        protokoll
    )
    # Wie auf der Konsole, während der Bot läuft (eigener Thread: `check` hat eine eigene Schleife).
    await asyncio.to_thread(main, ["check", "--config", str(umgebung.config)])
    fehlerausgabe = capsys.readouterr().err
    assert f"Warnung: Im Raum des Themenfelds Energie ({umgebung.raum_energie})" in fehlerausgabe
    assert ", ".join(erwartet) in fehlerausgabe
