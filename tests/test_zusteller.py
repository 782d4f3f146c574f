"""Der Zusteller sendet den Ausgangskorb: nichts geht verloren, nichts kommt doppelt,
Ratenlimits werden eingehalten, und ein Raum, der nicht will, hält keinen anderen auf."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from befehle.grundlagen import Antwort, Bild, Folge
from befehle.nachricht import Nachricht
from bot.ausgang import NACHRICHT, direktraum, eingereiht, einreihen, reihe_antwort_ein, verweis
from bot.inhalt import nachrichteninhalt
from bot.transport import (
    EndgueltigerFehler,
    Ratenlimit,
    UnbekannterFehler,
    VoruebergehenderFehler,
)
from bot.zusteller import HOECHSTENS_VERSUCHE, Zusteller
from modelle.datenbank import Sitzungsfabrik
from modelle.direktraeume import beabsichtige_direktraum
from modelle.tabellen import Ausgang, Direktraum
from tests.anweisungen import Anweisungen
from tests.testbot import Rekorder


@dataclass
class LaunischerTransport(Rekorder):
    """Wirft der Reihe nach die vorgegebenen Fehler (gleich in welchem Raum), danach nimmt er an."""

    fehler: list[Exception | None] = field(default_factory=list)
    angekommen: dict[str, str] = field(default_factory=dict)

    async def sende(
        self, raum_id: str, ereignistyp: str, inhalt: dict[str, Any], txn_id: str
    ) -> str:
        self.versuche.append((raum_id, txn_id))
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
            select(Ausgang)
            .where(Ausgang.gesendet_am.is_(None), Ausgang.aufgegeben_am.is_(None))
            .order_by(Ausgang.id)
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
    assert await zusteller.zustellen() == 1
    assert await _offen(sitzungen) == ["zwei", "drei"]
    assert await zusteller.zustellen() == 2
    assert await _offen(sitzungen) == []
    # Der zweite Versuch für „zwei“ nutzt dieselbe Transaktions-ID: der Homeserver entdoppelt.
    assert transport.versuche[1] == transport.versuche[2]
    assert len(transport.angekommen) == 3


async def test_unzustellbares_blockiert_nicht_den_rest(sitzungen: Sitzungsfabrik) -> None:
    transport = LaunischerTransport(fehler=[EndgueltigerFehler("M_TOO_LARGE: zu groß")])
    await _reihe_ein(sitzungen, "zu groß", "passt")
    assert await Zusteller(sitzungen, transport).zustellen() == 1
    async with sitzungen() as sitzung:
        zeilen = (await sitzung.scalars(select(Ausgang).order_by(Ausgang.id))).all()
    assert zeilen[0].event_id is None
    assert zeilen[0].aufgegeben_am is not None
    assert zeilen[0].letzter_fehler is not None
    assert "M_TOO_LARGE" in zeilen[0].letzter_fehler
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
        self._anweisungen = Anweisungen()
        self._anweisungen.beobachte(sitzungen.kw["bind"])

    @property
    def abfragen(self) -> int:
        return sum(a.lstrip().startswith("SELECT ausgang.") for a in self._anweisungen.gesendet)


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
    assert [txn for _, txn in transport.versuche] == list(transport.angekommen)  # jede einmal
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


# --- Ein Raum, der nicht will, hält keinen anderen auf --------------------------------------

FREMD = "!ohne-bot:example.org"
ENERGIE = "!energie:example.org"


class Schlaf:
    """Eingespeister Schlaf des Zustellers: merkt sich jede Pause und dauert, bis er frei ist."""

    def __init__(self, *, frei: bool = True) -> None:
        self.pausen: list[float] = []
        self.frei = asyncio.Event()
        if frei:
            self.frei.set()

    async def __call__(self, sekunden: float) -> None:
        self.pausen.append(sekunden)
        await self.frei.wait()


@contextlib.asynccontextmanager
async def _laeuft(zusteller: Zusteller) -> AsyncIterator[None]:
    aufgabe = asyncio.create_task(zusteller.laufen())
    try:
        yield
        assert not aufgabe.done(), aufgabe.exception()
    finally:
        aufgabe.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await aufgabe


async def _bis(bedingung: Callable[[], Awaitable[bool]], *, frist: float = 5.0) -> None:
    ende = asyncio.get_running_loop().time() + frist
    while not await bedingung():
        assert asyncio.get_running_loop().time() < ende, "Bedingung nicht erreicht"
        await asyncio.sleep(0.01)


async def _zeilen(sitzungen: Sitzungsfabrik) -> dict[str, Ausgang]:
    async with sitzungen() as sitzung:
        return {str(z.inhalt["body"]): z for z in await sitzung.scalars(select(Ausgang))}


def _versuche_in(transport: Rekorder, raum: str) -> int:
    return sum(1 for r, _ in transport.versuche if r == raum)


async def test_raum_ohne_bot_haelt_niemanden_auf_und_wird_nach_begrenzten_versuchen_aufgegeben(
    sitzungen: Sitzungsfabrik, caplog: pytest.LogCaptureFixture
) -> None:
    rekorder = Rekorder(ohne_bot={FREMD})
    schlaf = Schlaf(frei=False)
    async with sitzungen.begin() as sitzung:
        einreihen(sitzung, FREMD, NACHRICHT, {"body": "Abfrage für einen Raum ohne Bot"})
        einreihen(sitzung, ENERGIE, NACHRICHT, {"body": "Antwort im Energie-Raum"})
    zusteller = Zusteller(sitzungen, rekorder, schlafen=schlaf)

    async def energie_da() -> bool:
        return bool(rekorder.gesendet) and schlaf.pausen == [0.5]

    async def aufgegeben() -> bool:
        return (await _zeilen(sitzungen))[
            "Abfrage für einen Raum ohne Bot"
        ].aufgegeben_am is not None

    async with _laeuft(zusteller):
        # Die Antwort geht hinaus, während der fremde Raum nach seinem ersten Versuch wartet.
        await _bis(energie_da)
        assert [g.text for g in rekorder.gesendet] == ["Antwort im Energie-Raum"]
        assert _versuche_in(rekorder, FREMD) == 1
        schlaf.frei.set()
        await _bis(aufgegeben)

    assert _versuche_in(rekorder, FREMD) == HOECHSTENS_VERSUCHE
    assert schlaf.pausen == [0.5, 1, 2, 4, 8, 16, 32]  # wachsend, je Raum
    zeile = (await _zeilen(sitzungen))["Abfrage für einen Raum ohne Bot"]
    assert zeile.event_id is None
    assert zeile.gesendet_am is None
    assert zeile.letzter_fehler is not None
    assert "M_FORBIDDEN" in zeile.letzter_fehler
    assert f"in {FREMD} nicht zustellbar, aufgegeben" in caplog.text


@dataclass
class Gehalten(Rekorder):
    """Anfragen an `nur` (ohne: an jeden Raum) hängen, bis `los` gesetzt ist; `unterwegs` sagt,
    dass eine begonnen hat."""

    nur: str | None = None
    los: asyncio.Event = field(default_factory=asyncio.Event)
    unterwegs: asyncio.Event = field(default_factory=asyncio.Event)

    async def sende(
        self, raum_id: str, ereignistyp: str, inhalt: dict[str, Any], txn_id: str
    ) -> str:
        if self.nur in (None, raum_id):
            self.unterwegs.set()
            await self.los.wait()
        return await super().sende(raum_id, ereignistyp, inhalt, txn_id)


async def _leer(sitzungen: Sitzungsfabrik) -> bool:
    return not await _offen(sitzungen)


async def test_haengende_anfrage_an_einen_raum_haelt_die_anderen_nicht_auf(
    sitzungen: Sitzungsfabrik,
) -> None:
    """Wie eine Anfrage, die bis zum Zeitlimit von nio (90 s) hängt."""
    transport = Gehalten(nur=FREMD)
    korb = ZaehlenderKorb(sitzungen)
    async with sitzungen.begin() as sitzung:
        kopf = einreihen(sitzung, FREMD, NACHRICHT, {"body": "Kopf"})
        einreihen(
            sitzung,
            FREMD,
            NACHRICHT,
            nachrichteninhalt(Nachricht().absatz("Folge"), thread_wurzel=verweis(kopf)),
        )
        einreihen(sitzung, ENERGIE, NACHRICHT, {"body": "erste Antwort"})
    zusteller = Zusteller(sitzungen, transport)

    async def gesendet(*texte: str) -> bool:
        return [g.text for g in transport.gesendet] == list(texte)

    async with _laeuft(zusteller):
        await _bis(lambda: gesendet("erste Antwort"))
        # Auch die nächste Antwort geht sofort hinaus, ohne erst im Korb nachzusehen.
        vorher = korb.abfragen
        await _uebergib_in(sitzungen, zusteller, ENERGIE, "zweite Antwort")
        await _bis(lambda: gesendet("erste Antwort", "zweite Antwort"))
        assert korb.abfragen == vorher
        transport.los.set()
        await _bis(lambda: gesendet("erste Antwort", "zweite Antwort", "Kopf", "Folge"))
    # Im hängenden Raum blieb die Reihenfolge: die Folge hängt im Thread ihrer Wurzel.
    wurzel, folge = transport.gesendet[2:]
    assert folge.inhalt["m.relates_to"]["event_id"] == wurzel.event_id


async def test_neues_wird_erst_geholt_wenn_die_antworten_hinaus_sind(
    sitzungen: Sitzungsfabrik,
) -> None:
    """`abgesendet`, worauf die Sync-Schleife vor jedem Sync wartet: ohne Antworten unterwegs
    sofort, sonst bis sie hinaus sind."""
    transport = Gehalten()
    zusteller = Zusteller(sitzungen, transport)
    async with _laeuft(zusteller):
        await asyncio.wait_for(zusteller.abgesendet(10), timeout=0.5)
        await _uebergib_in(sitzungen, zusteller, ENERGIE, "erste Antwort")
        await _uebergib_in(sitzungen, zusteller, ENERGIE, "zweite Antwort")
        await asyncio.wait_for(transport.unterwegs.wait(), timeout=5)
        warten = asyncio.create_task(zusteller.abgesendet(10))
        await asyncio.sleep(0.05)
        assert not warten.done()
        transport.los.set()
        await asyncio.wait_for(warten, timeout=5)
        assert [g.text for g in transport.gesendet] == ["erste Antwort", "zweite Antwort"]


async def test_eine_haengende_antwort_haelt_das_holen_nur_bis_zur_frist_auf(
    sitzungen: Sitzungsfabrik,
) -> None:
    transport = Gehalten()
    zusteller = Zusteller(sitzungen, transport)
    async with _laeuft(zusteller):
        await _uebergib_in(sitzungen, zusteller, ENERGIE, "Antwort")
        await asyncio.wait_for(transport.unterwegs.wait(), timeout=5)
        uhr = asyncio.get_running_loop().time
        beginn = uhr()
        await asyncio.wait_for(zusteller.abgesendet(0.1), timeout=5)
        assert uhr() - beginn >= 0.1
        assert not transport.gesendet
        transport.los.set()
        await _bis(lambda: _leer(sitzungen))


async def test_ein_raum_in_der_pause_nach_einem_fehler_haelt_das_holen_nicht_auf(
    sitzungen: Sitzungsfabrik,
) -> None:
    rekorder = Rekorder(stoerungen={FREMD: [VoruebergehenderFehler("Verbindung weg")]})
    schlaf = Schlaf(frei=False)
    async with sitzungen.begin() as sitzung:
        einreihen(sitzung, FREMD, NACHRICHT, {"body": "wartet auf den nächsten Versuch"})
    zusteller = Zusteller(sitzungen, rekorder, schlafen=schlaf)

    async def in_der_pause() -> bool:
        return schlaf.pausen == [0.5]

    async with _laeuft(zusteller):
        await _bis(in_der_pause)
        await asyncio.wait_for(zusteller.abgesendet(10), timeout=0.5)
        schlaf.frei.set()
        await _bis(lambda: _leer(sitzungen))
    assert [g.text for g in rekorder.gesendet] == ["wartet auf den nächsten Versuch"]


async def test_netzausfall_wird_ohne_grenze_wiederholt(sitzungen: Sitzungsfabrik) -> None:
    rekorder = Rekorder(stoerungen={ENERGIE: [VoruebergehenderFehler("Verbindung weg")] * 12})
    schlaf = Schlaf()
    async with sitzungen.begin() as sitzung:
        einreihen(sitzung, ENERGIE, NACHRICHT, {"body": "nach dem Ausfall"})
    zusteller = Zusteller(sitzungen, rekorder, laengste_pause=4, schlafen=schlaf)
    async with _laeuft(zusteller):
        await _bis(lambda: _leer(sitzungen))
    assert [g.text for g in rekorder.gesendet] == ["nach dem Ausfall"]
    assert schlaf.pausen == [0.5, 1, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4]
    assert (await _zeilen(sitzungen))["nach dem Ausfall"].aufgegeben_am is None


async def test_unbekannte_fehler_sind_ebenso_begrenzt(
    sitzungen: Sitzungsfabrik, caplog: pytest.LogCaptureFixture
) -> None:
    rekorder = Rekorder(
        stoerungen={
            ENERGIE: [
                UnbekannterFehler("M_SELTSAM: unbekannt"),
                RuntimeError("nio weiß nicht weiter"),
                UnbekannterFehler("500: M_UNKNOWN"),
            ]
        }
    )
    async with sitzungen.begin() as sitzung:
        einreihen(sitzung, ENERGIE, NACHRICHT, {"body": "kommt nie an"})
        einreihen(sitzung, ENERGIE, NACHRICHT, {"body": "danach"})
    zusteller = Zusteller(sitzungen, rekorder, hoechstens_versuche=3, schlafen=Schlaf())

    async def danach_gesendet() -> bool:
        return [g.text for g in rekorder.gesendet] == ["danach"]

    async with _laeuft(zusteller):
        await _bis(danach_gesendet)
    zeile = (await _zeilen(sitzungen))["kommt nie an"]
    assert zeile.aufgegeben_am is not None
    assert zeile.letzter_fehler == "500: M_UNKNOWN"
    assert "Unerwarteter Fehler beim Senden" in caplog.text
    assert "nio weiß nicht weiter" in caplog.text


async def _uebergib_in(
    sitzungen: Sitzungsfabrik, zusteller: Zusteller, raum: str, text: str
) -> None:
    async with sitzungen.begin() as sitzung:
        einreihen(sitzung, raum, NACHRICHT, {"body": text})
    zusteller.uebergib(eingereiht(sitzung))


# --- Direkträume -------------------------------------------------------------------------

ANNA = "@anna:example.org"


async def _direktnachricht(sitzungen: Sitzungsfabrik, text: str) -> None:
    async with sitzungen.begin() as sitzung:
        einreihen(sitzung, direktraum(ANNA), NACHRICHT, {"body": text})


async def _direktraeume(sitzungen: Sitzungsfabrik) -> list[tuple[str | None, bool]]:
    async with sitzungen() as sitzung:
        zeilen = await sitzung.scalars(select(Direktraum).order_by(Direktraum.id))
        return [(z.raum_id, z.aufgegeben_am is None) for z in zeilen]


async def _abgestuerzter_versuch(sitzungen: Sitzungsfabrik, rekorder: Rekorder) -> str:
    """Ein Versuch, der abstürzte: Absicht festgeschrieben, Raum angelegt, Raum-ID nicht gemerkt."""
    async with sitzungen.begin() as sitzung:
        absicht = await beabsichtige_direktraum(sitzung, ANNA)
    return await rekorder.erstelle_direktraum(ANNA, absicht.kennung)


async def test_absturz_zwischen_anlegen_und_merken_ergibt_keinen_zweiten_direktraum(
    sitzungen: Sitzungsfabrik,
) -> None:
    rekorder = Rekorder()
    raum = await _abgestuerzter_versuch(sitzungen, rekorder)

    await _direktnachricht(sitzungen, "Erinnerung")
    assert await Zusteller(sitzungen, rekorder).zustellen() == 1
    assert rekorder.direktraeume == [ANNA]
    assert [(g.raum_id, g.text) for g in rekorder.gesendet] == [(raum, "Erinnerung")]
    assert await _direktraeume(sitzungen) == [(raum, True)]


async def test_verlassener_direktraum_wird_neu_angelegt_und_der_bot_geht(
    sitzungen: Sitzungsfabrik,
) -> None:
    rekorder = Rekorder()
    await _direktnachricht(sitzungen, "erste Erinnerung")
    assert await Zusteller(sitzungen, rekorder).zustellen() == 1
    (alt,) = {g.raum_id for g in rekorder.gesendet}
    rekorder.verlassen_von[alt] = {ANNA}

    await _direktnachricht(sitzungen, "zweite Erinnerung")
    assert await Zusteller(sitzungen, rekorder).zustellen() == 1
    neu = rekorder.gesendet[-1].raum_id
    assert neu != alt
    assert rekorder.direktraeume == [ANNA, ANNA]
    assert rekorder.verlassen == [alt]
    assert await _direktraeume(sitzungen) == [(alt, False), (neu, True)]


async def test_wiedergefundener_direktraum_den_sie_schon_verlassen_hat_wird_ersetzt(
    sitzungen: Sitzungsfabrik,
) -> None:
    rekorder = Rekorder()
    alt = await _abgestuerzter_versuch(sitzungen, rekorder)
    rekorder.verlassen_von[alt] = {ANNA}

    await _direktnachricht(sitzungen, "Erinnerung")
    assert await Zusteller(sitzungen, rekorder).zustellen() == 1
    (neu,) = {g.raum_id for g in rekorder.gesendet}
    assert neu != alt
    assert rekorder.verlassen == [alt]
    assert await _direktraeume(sitzungen) == [(alt, False), (neu, True)]


async def test_was_die_vorige_instanz_schon_sandte_geht_nach_der_uebernahme_nicht_noch_einmal(
    sitzungen: Sitzungsfabrik,
) -> None:
    """Die aktive Instanz starb zwischen Senden und Vermerken. Die übernehmende ist ein anderes
    Gerät: der Homeserver erkennt die txn_id nicht wieder, der Abgleich mit dem Raum schon."""
    await _reihe_ein(sitzungen, "schon gesendet", "noch offen")
    async with sitzungen() as sitzung:
        erste = await sitzung.scalar(select(Ausgang.txn_id).order_by(Ausgang.id).limit(1))
    assert erste is not None
    gefragt: list[tuple[str, set[str]]] = []

    async def schon_gesendet(raum_id: str, txn_ids: Any) -> dict[str, str]:
        gefragt.append((raum_id, set(txn_ids)))
        return {erste: "$von_der_vorigen"}

    transport = LaunischerTransport()
    zusteller = Zusteller(sitzungen, transport, schon_gesendet=schon_gesendet)
    lauf = asyncio.create_task(zusteller.laufen())
    try:
        await _bis_zugestellt(sitzungen, transport, 1)
        await asyncio.sleep(0.05)
    finally:
        lauf.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await lauf
    assert len(transport.versuche) == 1, "nur der noch offene Eintrag geht hinaus"
    assert transport.versuche[0][1] != erste
    assert len(gefragt) == 1
    assert len(gefragt[0][1]) == 2
    assert await _offen(sitzungen) == []
    async with sitzungen() as sitzung:
        assert (
            await sitzung.scalar(select(Ausgang.event_id).where(Ausgang.txn_id == erste))
            == "$von_der_vorigen"
        )


async def test_scheitert_der_abgleich_wird_trotzdem_gesendet(sitzungen: Sitzungsfabrik) -> None:
    await _reihe_ein(sitzungen, "offen")

    async def kaputt(_raum_id: str, _txn_ids: Any) -> dict[str, str]:
        raise VoruebergehenderFehler("Homeserver weg")

    transport = LaunischerTransport()
    lauf = asyncio.create_task(Zusteller(sitzungen, transport, schon_gesendet=kaputt).laufen())
    try:
        await _bis_zugestellt(sitzungen, transport, 1)
    finally:
        lauf.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await lauf
    assert await _offen(sitzungen) == []
