"""Der Ausgangskorb: nichts geht verloren, nichts kommt doppelt, Ratenlimits werden eingehalten."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event, select

from befehle.darstellung import Nachricht
from befehle.grundlagen import Antwort, Bild, Folge
from bot.ausgang import (
    NACHRICHT,
    Zusteller,
    direktraum,
    eingereiht,
    einreihen,
    reihe_antwort_ein,
)
from bot.transport import EndgueltigerFehler, Ratenlimit, Sendefehler, VoruebergehenderFehler
from modelle.datenbank import Sitzungsfabrik
from modelle.tabellen import Ausgang
from tests.testbot import Rekorder


@dataclass
class LaunischerTransport:
    """Wirft der Reihe nach die vorgegebenen Fehler, danach nimmt er an."""

    fehler: list[Sendefehler | None] = field(default_factory=list)
    versuche: list[str] = field(default_factory=list)
    angekommen: dict[str, str] = field(default_factory=dict)

    async def sende(
        self, raum_id: str, ereignistyp: str, inhalt: dict[str, Any], txn_id: str
    ) -> str:
        self.versuche.append(txn_id)
        if self.fehler:
            naechster = self.fehler.pop(0)
            if naechster is not None:
                raise naechster
        return self.angekommen.setdefault(txn_id, f"$ev{len(self.angekommen) + 1}")

    # Die Tests mit diesem Transport senden nur Text in bekannte Räume.
    async def lade_hoch(
        self, raum_id: str, daten: bytes, mimetype: str, dateiname: str
    ) -> dict[str, Any]:
        raise AssertionError("LaunischerTransport lädt nichts hoch")

    async def erstelle_direktraum(self, matrix_id: str) -> str:
        raise AssertionError("LaunischerTransport legt keine Direkträume an")


async def _reihe_ein(sitzungen: Sitzungsfabrik, *texte: str) -> None:
    async with sitzungen.begin() as sitzung:
        for text in texte:
            einreihen(sitzung, "!raum:example.org", NACHRICHT, {"body": text})


async def _offen(sitzungen: Sitzungsfabrik) -> list[str]:
    async with sitzungen() as sitzung:
        zeilen = await sitzung.scalars(
            select(Ausgang).where(Ausgang.gesendet_am.is_(None)).order_by(Ausgang.id)
        )
        return [str(z.inhalt["body"]) for z in zeilen]


async def test_ratenlimit_wird_abgewartet_und_dann_gesendet(sitzungen: Sitzungsfabrik) -> None:
    pausen: list[float] = []

    async def schlafen(sekunden: float) -> None:
        pausen.append(sekunden)

    transport = LaunischerTransport(fehler=[Ratenlimit(1500), Ratenlimit(200)])
    await _reihe_ein(sitzungen, "eins")
    assert await Zusteller(sitzungen, transport, schlafen=schlafen).zustellen() == 1
    assert pausen == [1.5, 0.2]
    assert len(transport.angekommen) == 1
    assert await _offen(sitzungen) == []


async def test_netzfehler_behaelt_nachricht_und_reihenfolge(sitzungen: Sitzungsfabrik) -> None:
    transport = LaunischerTransport(fehler=[None, VoruebergehenderFehler("Verbindung weg")])
    zusteller = Zusteller(sitzungen, transport)
    await _reihe_ein(sitzungen, "eins", "zwei", "drei")
    with pytest.raises(VoruebergehenderFehler):
        await zusteller.zustellen()
    assert await _offen(sitzungen) == ["zwei", "drei"]
    assert await zusteller.zustellen() == 2
    assert await _offen(sitzungen) == []
    # Der zweite Versuch für „zwei“ nutzt dieselbe Transaktions-ID: der Homeserver entdoppelt.
    assert transport.versuche[1] == transport.versuche[2]
    assert len(transport.angekommen) == 3


async def test_unzustellbares_blockiert_nicht_den_rest(sitzungen: Sitzungsfabrik) -> None:
    transport = LaunischerTransport(fehler=[EndgueltigerFehler("M_FORBIDDEN: nicht im Raum")])
    await _reihe_ein(sitzungen, "verboten", "erlaubt")
    assert await Zusteller(sitzungen, transport).zustellen() == 2
    async with sitzungen() as sitzung:
        zeilen = (await sitzung.scalars(select(Ausgang).order_by(Ausgang.id))).all()
    assert zeilen[0].event_id is None
    assert zeilen[0].letzter_fehler is not None
    assert "M_FORBIDDEN" in zeilen[0].letzter_fehler
    assert zeilen[1].event_id is not None


async def test_thread_folgen_haengen_an_der_gesendeten_hauptnachricht(
    sitzungen: Sitzungsfabrik,
) -> None:
    antwort = Antwort(
        Nachricht().absatz("Wochenbericht"),
        thread=(
            Folge(Nachricht().absatz("Energie"), projekte=("waermeplanung",)),
            Folge(bild=Bild(b"\x89PNG-Testdaten", "ampeln.png", "Ampeln der letzten 12 Wochen")),
        ),
    )
    async with sitzungen.begin() as sitzung:
        reihe_antwort_ein(sitzung, "!stab:example.org", antwort)
    rekorder = Rekorder()
    assert await Zusteller(sitzungen, rekorder).zustellen() == 3
    kopf, feld, bild = rekorder.gesendet
    for folge in (feld, bild):
        bezug = folge.inhalt["m.relates_to"]
        assert bezug["rel_type"] == "m.thread"
        assert bezug["event_id"] == kopf.event_id
    assert feld.inhalt["de.klimabot.projekte"] == ["waermeplanung"]
    assert bild.inhalt["msgtype"] == "m.image"
    assert bild.inhalt["url"] == "mxc://test/1"
    assert "de.klimabot.anhang" not in bild.inhalt
    assert rekorder.hochgeladen == [("ampeln.png", "image/png", b"\x89PNG-Testdaten")]


async def test_direktnachrichten_nutzen_einen_raum_je_person(sitzungen: Sitzungsfabrik) -> None:
    async with sitzungen.begin() as sitzung:
        for text in ("erste", "zweite"):
            einreihen(sitzung, direktraum("@anna:example.org"), NACHRICHT, {"body": text})
    rekorder = Rekorder()
    assert await Zusteller(sitzungen, rekorder).zustellen() == 2
    assert rekorder.direktraeume == ["@anna:example.org"]
    assert {g.raum_id for g in rekorder.gesendet} == {"!direkt-1:test"}


class ZaehlenderKorb:
    """Zählt, wie oft der Zusteller im Korb nachsieht (SELECT auf `ausgang`)."""

    def __init__(self, sitzungen: Sitzungsfabrik) -> None:
        self.abfragen = 0

        def zaehle(_verbindung: Any, _cursor: Any, anweisung: str, *_rest: Any) -> None:
            if anweisung.lstrip().startswith("SELECT ausgang."):
                self.abfragen += 1

        engine = sitzungen.kw["bind"]
        event.listen(engine.sync_engine, "before_cursor_execute", zaehle)


async def _uebergib(sitzungen: Sitzungsfabrik, zusteller: Zusteller, *texte: str) -> None:
    async with sitzungen.begin() as sitzung:
        for text in texte:
            einreihen(sitzung, "!raum:example.org", NACHRICHT, {"body": text})
    zusteller.uebergib(eingereiht(sitzung))


async def _bis_zugestellt(
    sitzungen: Sitzungsfabrik, transport: LaunischerTransport, anzahl: int
) -> None:
    """Bis `anzahl` angekommen und als gesendet vermerkt sind (der Vermerk folgt dem Senden)."""
    for _ in range(500):
        if len(transport.angekommen) >= anzahl and not await _offen(sitzungen):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"nur {len(transport.angekommen)} von {anzahl} zugestellt")


async def test_antwort_bei_leerem_korb_geht_ohne_nachsehen_hinaus_und_nur_einmal(
    sitzungen: Sitzungsfabrik,
) -> None:
    korb = ZaehlenderKorb(sitzungen)
    abfragen_beim_senden: list[int] = []

    class Beobachtend(LaunischerTransport):
        async def sende(
            self, raum_id: str, ereignistyp: str, inhalt: dict[str, Any], txn_id: str
        ) -> str:
            abfragen_beim_senden.append(korb.abfragen)
            return await super().sende(raum_id, ereignistyp, inhalt, txn_id)

    transport = Beobachtend()
    zusteller = Zusteller(sitzungen, transport)
    lauf = asyncio.create_task(zusteller.laufen())
    try:
        await asyncio.sleep(0.1)  # erste Abfrage: der Korb ist leer
        for nummer in range(5):
            vorher = korb.abfragen
            await _uebergib(sitzungen, zusteller, f"antwort {nummer}")
            await _bis_zugestellt(sitzungen, transport, nummer + 1)
            # Gesendet, ohne erst im Korb nachzusehen; nachgesehen wird danach.
            assert abfragen_beim_senden[-1] == vorher
            await asyncio.sleep(0.05)
    finally:
        lauf.cancel()
    assert transport.versuche == list(transport.angekommen)  # jede einmal
    assert await _offen(sitzungen) == []


async def test_aelteres_offenes_geht_vor_der_uebergebenen_antwort(
    sitzungen: Sitzungsfabrik,
) -> None:
    transport = LaunischerTransport(fehler=[VoruebergehenderFehler("Verbindung weg")])
    zusteller = Zusteller(sitzungen, transport, erste_pause=0.05)
    await _reihe_ein(sitzungen, "alt")
    lauf = asyncio.create_task(zusteller.laufen())
    try:
        await asyncio.sleep(0.02)  # „alt“ scheitert einmal und bleibt offen
        await _uebergib(sitzungen, zusteller, "neu")
        await _bis_zugestellt(sitzungen, transport, 2)
    finally:
        lauf.cancel()
    async with sitzungen() as sitzung:
        texte = {z.txn_id: z.inhalt["body"] for z in await sitzung.scalars(select(Ausgang))}
    assert [texte[txn] for txn in transport.angekommen] == ["alt", "neu"]
    assert await _offen(sitzungen) == []
