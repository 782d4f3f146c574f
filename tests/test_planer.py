"""Geplantes mit eingespeister Uhr: Abfrage, Antworten darauf, Wochenbericht, Erinnerungen."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import select

from bot.app import setze_stabsstelle_raum
from modelle.datenbank import Sitzungsfabrik
from modelle.tabellen import Versand, Versandstatus
from tests.testbot import (
    BERLIN,
    KOORDINATION_ENERGIE,
    PATIN_ENERGIE,
    RAUM_ENERGIE,
    RAUM_STABSSTELLE,
    Gesendet,
    Testbot,
)


class Uhr:
    def __init__(self) -> None:
        self.jetzt = dt.datetime(2026, 11, 30, 9, 0, 30, tzinfo=BERLIN)

    def __call__(self) -> dt.datetime:
        return self.jetzt

    def stelle(
        self, jahr: int, monat: int, tag: int, stunde: int, minute: int, sekunde: int = 0
    ) -> None:
        self.jetzt = dt.datetime(jahr, monat, tag, stunde, minute, sekunde, tzinfo=BERLIN)


@pytest.fixture
def uhr(planbar: Testbot) -> Uhr:
    """Die Uhr der Planer eines Tests; `planbar` macht den `testbot` bereit für sie."""
    return Uhr()


async def test_abfrage_kommt_einmal_mit_zeile_je_projekt(
    sitzungen: Sitzungsfabrik, testbot: Testbot, uhr: Uhr
) -> None:
    gesendet = await testbot.planer_durchgang(uhr.jetzt)
    energie = [g for g in gesendet if g.raum_id == RAUM_ENERGIE]
    kopf, *zeilen = energie
    assert "Fortschrittsabfrage Themenfeld Energie" in kopf.text
    assert PATIN_ENERGIE in kopf.inhalt["m.mentions"]["user_ids"]
    assert KOORDINATION_ENERGIE in kopf.inhalt["m.mentions"]["user_ids"]
    assert "matrix.to/#/" + PATIN_ENERGIE in kopf.html
    assert [z.inhalt["de.klimabot.projekte"] for z in zeilen] == [
        ["waermeplanung"],
        ["pv-offensive"],
        ["fernwaerme-dekarbonisierung"],
        ["windenergie-flaechen"],
    ]
    assert all(z.inhalt["m.relates_to"]["event_id"] == kopf.event_id for z in zeilen)
    # Mobilität fragt dienstags: heute nicht.
    assert not any(g.raum_id == "#klima-mobilitaet:muenster.de" for g in gesendet)

    uhr.stelle(2026, 11, 30, 9, 5)
    assert await testbot.planer_durchgang(uhr.jetzt) == []  # auch nach „Neustart“
    async with sitzungen() as sitzung:
        vermerkt = await sitzung.scalar(
            select(Versand.event_id).where(Versand.schluessel.startswith("abfrage:energie:"))
        )
    assert vermerkt == kopf.event_id


async def test_abfrage_wird_per_reaktion_und_threadantwort_beantwortet(
    testbot: Testbot, uhr: Uhr
) -> None:
    gesendet = await testbot.planer_durchgang(uhr.jetzt)
    kopf, waerme, pv, *_ = [g for g in gesendet if g.raum_id == RAUM_ENERGIE]
    tipp = await testbot.reagiere(waerme.event_id, "🔴", als=PATIN_ENERGIE, raum=RAUM_ENERGIE)
    assert "rot gespeichert" in tipp.text
    assert tipp.nachricht.inhalt["m.relates_to"]["event_id"] == kopf.event_id  # im Thread
    antwort = await testbot.sende(
        "gelb, 35 %, Dachstatik offen",
        als=KOORDINATION_ENERGIE,
        raum=RAUM_ENERGIE,
        thread=kopf.event_id,
        antwort_auf=pv.event_id,
    )
    assert antwort.reaktionen == ["✅"]
    stand = await testbot.sende("!status energie", als=PATIN_ENERGIE)
    assert "🔴 rot *Kommunale Wärmeplanung*" in stand.text
    assert "35 %" in stand.text
    assert "🟡 gelb *PV-Offensive" in stand.text


async def test_wochenbericht_mit_thread_und_diagramm_im_raum_der_stabsstelle(
    testbot: Testbot, uhr: Uhr
) -> None:
    uhr.stelle(2026, 11, 27, 14, 0, 20)
    gesendet = await testbot.planer_durchgang(uhr.jetzt)
    bericht = [g for g in gesendet if g.raum_id == RAUM_STABSSTELLE]
    kopf, *thread = bericht
    assert "Wochenbericht" in kopf.text
    assert len([t for t in thread if t.inhalt.get("msgtype") == "m.notice"]) == 7
    bild = [t for t in thread if t.inhalt.get("msgtype") == "m.image"]
    assert len(bild) == 1
    assert bild[0].inhalt["url"].startswith("mxc://")
    assert testbot.rekorder.hochgeladen[0][2].startswith(b"\x89PNG")
    assert await testbot.planer_durchgang(uhr.jetzt) == []


async def test_ausgelassene_abfrage_steht_im_naechsten_wochenbericht(
    testbot: Testbot, uhr: Uhr
) -> None:
    await testbot.planer_durchgang(uhr.jetzt)  # Mo 30.11. regulär
    uhr.stelle(2026, 12, 7, 22, 0)  # Mo 07.12. erst abends zurück: Nachholfrist vorbei
    gesendet = await testbot.planer_durchgang(uhr.jetzt)
    assert not any("Fortschrittsabfrage Themenfeld Energie" in g.text for g in gesendet)
    uhr.stelle(2026, 12, 11, 14, 0, 30)
    bericht = await testbot.planer_durchgang(uhr.jetzt)
    assert any("ausgelassen" in g.text for g in bericht if g.raum_id == RAUM_STABSSTELLE)


async def test_erinnerung_zweimal_im_raum_dann_direkt_an_die_patin(
    testbot: Testbot, uhr: Uhr
) -> None:
    def erinnerungen(gesendet: list[Gesendet]) -> list[Gesendet]:
        return [
            g
            for g in gesendet
            if g.inhalt.get("de.klimabot.projekte") == ["waermeplanung"]
            and ("Erinnerung" in g.text or "Guten Tag" in g.text)
        ]

    stufen = []
    for tag in (14, 15, 16):  # Mo–Mi, drei Wochen nach dem Anfangsstand
        uhr.stelle(2026, 12, tag, 10, 0, 30)
        stufen.append(erinnerungen(await testbot.planer_durchgang(uhr.jetzt)))
    eins, zwei, drei = stufen
    assert [g.raum_id for g in eins] == [RAUM_ENERGIE]
    assert "⏰ Erinnerung" in eins[0].text
    assert PATIN_ENERGIE in eins[0].inhalt["m.mentions"]["user_ids"]
    assert "(2.)" in zwei[0].text
    assert PATIN_ENERGIE in testbot.rekorder.direktraeume
    assert drei[0].raum_id.startswith("!direkt-")
    assert "nach zwei Erinnerungen" in drei[0].text
    # Am Samstag nichts.
    uhr.stelle(2026, 12, 19, 10, 0, 30)
    assert erinnerungen(await testbot.planer_durchgang(uhr.jetzt)) == []


async def test_wochenbericht_ohne_raum_der_stabsstelle_wird_einmal_ausgelassen(
    sitzungen: Sitzungsfabrik, testbot: Testbot, uhr: Uhr, caplog: pytest.LogCaptureFixture
) -> None:
    await setze_stabsstelle_raum(None, sitzungen)
    uhr.stelle(2026, 11, 27, 14, 0, 30)
    with caplog.at_level(logging.WARNING, logger="bot.planer"):
        for minute in (0, 1, 2):
            uhr.stelle(2026, 11, 27, 14, minute, 30)
            gesendet = await testbot.planer_durchgang(uhr.jetzt)
            assert not any("Wochenbericht" in g.text for g in gesendet)
    assert caplog.text.count("kein Raum der Stabsstelle") == 1
    async with sitzungen() as sitzung:
        status = await sitzung.scalar(
            select(Versand.status).where(Versand.schluessel.startswith("wochenbericht:"))
        )
    assert status == Versandstatus.UEBERSPRUNGEN
