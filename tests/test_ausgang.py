"""Der Ausgangskorb: nichts geht verloren, nichts kommt doppelt, Ratenlimits werden eingehalten."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from befehle.darstellung import Nachricht
from befehle.grundlagen import Antwort, Bild, Folge
from bot.ausgang import NACHRICHT, Zusteller, direktraum, einreihen, reihe_antwort_ein
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
