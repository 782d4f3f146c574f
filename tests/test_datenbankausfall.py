"""Übungen: die Datenbank fällt aus – PostgreSQL beendet Verbindungen, SQLite ist gesperrt.

Der Bot läuft weiter, wiederholt und verliert keine Meldung. „Bitte später erneut versuchen“
bekommt nur, wessen Meldung binnen der Geduld nicht gespeichert werden konnte, und dann
bleibt von ihr nichts Halbes zurück. Jede Übung läuft gegen beide Datenbanken.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import baue_verarbeitung
from bot.ereignis import Ereignis
from bot.inhalt import reaktionsinhalt
from bot.transport import NichtImRaum
from bot.verarbeitung import HINWEIS, DatenbankNichtErreichbar, Verarbeitung
from bot.zusteller import Zusteller
from demo.clientinhalt import bearbeitung, textnachricht
from modelle.datenbank import Sitzungsfabrik, erzeuge_engine, erzeuge_sitzungsfabrik
from modelle.strukturdatei import lies_struktur
from modelle.strukturimport import importiere_struktur
from modelle.tabellen import Ausgang, Statusmeldung, VerarbeitetesEreignis
from tests import datenbanken
from tests.strukturen import BEISPIEL
from tests.testbot import (
    BOT,
    KOORDINATION_ENERGIE,
    PATIN_ENERGIE,
    RAUM_ENERGIE,
    STABSSTELLE,
    VORGABEN,
    Gesendet,
    Testbot,
)

GEDULD = 2.0
# So lange wartet SQLite auf eine fremde Sperre, bevor ein Versuch scheitert (im Betrieb 15 s
# bei 30 s Geduld; hier im selben Verhältnis verkürzt).
SQLITE_WARTEZEIT = 0.5
MELDENDE = (PATIN_ENERGIE, KOORDINATION_ENERGIE, STABSSTELLE, "@lukas.terhorst:muenster.de")


class Ausfall:
    """Macht die Datenbank unerreichbar und wieder erreichbar, wie es im Betrieb vorkommt."""

    async def beginne(self) -> None:
        raise NotImplementedError

    async def beende(self) -> None:
        raise NotImplementedError


class SqliteGesperrt(Ausfall):
    """Ein anderer Schreiber hält die Datei mit `BEGIN EXCLUSIVE` (lesen geht dank WAL weiter)."""

    def __init__(self, pfad: str) -> None:
        self._sperre = datenbanken.SqliteSperre(pfad, wartezeit=10)

    async def beginne(self) -> None:
        await self._sperre.setzen()

    async def beende(self) -> None:
        await self._sperre.loesen()


class PostgresAbgeschaltet(Ausfall):
    """Keine neuen Verbindungen (`ALLOW_CONNECTIONS false`), die bestehenden beendet."""

    def __init__(self, url: str, basis_url: str) -> None:
        self.name = make_url(url).database
        self._basis_url = basis_url

    async def _ausfuehren(self, *befehle: str) -> None:
        await datenbanken.pg_ausfuehren(self._basis_url, *befehle)

    async def beginne(self) -> None:
        await self._ausfuehren(
            f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false',
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{self.name}' AND pid <> pg_backend_pid()",
        )

    async def unterbreche_transaktionen(
        self, abstand: float, treffer: list[float], bereit: asyncio.Event
    ) -> None:
        """Beendet, bis abgebrochen, jede Verbindung mitten in einer Transaktion – danach
        `abstand` Sekunden Ruhe, damit auch etwas gelingt. `bereit`, sobald es lauert.

        Nicht beim Anpingen der Verbindung (`BEGIN`, `;`), mit dem der Pool sie vor der Ausgabe
        prüft: das fängt der Pool still ab, der Bot bemerkte keine Störung."""
        verbindung = await asyncpg.connect(datenbanken.asyncpg_dsn(self._basis_url), timeout=10)
        bereit.set()
        try:
            while True:
                beendet = await verbindung.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = $1 AND pid <> pg_backend_pid() "
                    "AND state IN ('active', 'idle in transaction') "
                    "AND trim(query) NOT IN (';', 'BEGIN', 'BEGIN;')",
                    self.name,
                )
                if beendet:
                    treffer.append(time.monotonic())
                    await asyncio.sleep(abstand)
                else:
                    await asyncio.sleep(0.002)
        finally:
            await verbindung.close()

    async def beende(self) -> None:
        await self._ausfuehren(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')


@dataclass
class Uebung:
    """Ein Bot auf echter Datenbank, dessen Ausfall der Test steuert."""

    url: str
    sitzungen: Sitzungsfabrik
    bot: Testbot
    ausfall: Ausfall
    _ids: itertools.count[int]

    @property
    def verarbeitung(self) -> Verarbeitung:
        return self.bot.verarbeitung

    def neue_verarbeitung(self, sitzungen: Sitzungsfabrik | None = None) -> Verarbeitung:
        """Eine Verarbeitung wie nach einem Neustart: nichts im Gedächtnis."""
        return baue_verarbeitung(
            VORGABEN,
            sitzungen or self.sitzungen,
            bot_id=BOT,
            transport=self.bot.rekorder,
            geduld=GEDULD,
            metriken=self.bot.metriken,
        )

    def ereignis(self, typ: str, inhalt: dict[str, Any], *, als: str) -> Ereignis:
        roh = {
            "event_id": f"$uebung{next(self._ids)}",
            "type": typ,
            "sender": als,
            "content": inhalt,
            # Jetzt gesendet – wann, zählt im Ausfall (siehe bot.verarbeitung).
            "origin_server_ts": int(time.time() * 1000),
        }
        ereignis = Ereignis.aus_json(RAUM_ENERGIE, roh)
        assert ereignis is not None
        return ereignis

    def nachricht(self, text: str, *, als: str, antwort_auf: str | None = None) -> Ereignis:
        return self.ereignis(
            "m.room.message", textnachricht(text, antwort_auf=antwort_auf), als=als
        )

    @property
    def gesendet(self) -> list[Gesendet]:
        return self.bot.rekorder.gesendet

    def hinweise(self) -> list[Gesendet]:
        return [g for g in self.gesendet if HINWEIS in g.text]

    def antworten_auf(self, event_id: str) -> list[Gesendet]:
        """Was der Bot zu einem Ereignis sendete: Antwort (Zitat) oder Reaktion darauf."""
        return [
            g
            for g in self.gesendet
            if g.inhalt.get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id") == event_id
            or (g.typ == "m.reaction" and g.inhalt["m.relates_to"]["event_id"] == event_id)
        ]


@pytest.fixture
async def uebung(datenbank_url: str) -> AsyncIterator[Uebung]:
    if datenbank_url.startswith("sqlite"):
        engine = erzeuge_engine(datenbank_url, connect_args={"timeout": SQLITE_WARTEZEIT})
        pfad = make_url(datenbank_url).database
        assert pfad is not None
        ausfall: Ausfall = SqliteGesperrt(pfad)
    else:
        engine = erzeuge_engine(datenbank_url)
        basis = datenbanken.postgres_basis_url()
        assert basis is not None
        ausfall = PostgresAbgeschaltet(datenbank_url, basis)
    sitzungen = erzeuge_sitzungsfabrik(engine)
    async with sitzungen.begin() as sitzung:
        await importiere_struktur(sitzung, lies_struktur(BEISPIEL), "Test")
    bot = Testbot(sitzungen)
    uebung = Uebung(datenbank_url, sitzungen, bot, ausfall, itertools.count(1))
    bot.verarbeitung = uebung.neue_verarbeitung()
    try:
        yield uebung
    finally:
        await ausfall.beende()
        await engine.dispose()


async def _pruefe_nichts_halbes(sitzungen: Sitzungsfabrik, aufgegeben: list[str]) -> None:
    """Jede Meldung ist als behandelt vermerkt; von Aufgegebenem steht nirgends etwas."""
    async with sitzungen() as sitzung:
        ohne_vermerk = (
            await sitzung.scalars(
                select(Statusmeldung.event_id).where(
                    Statusmeldung.event_id.is_not(None),
                    Statusmeldung.event_id.not_in(select(VerarbeitetesEreignis.event_id)),
                )
            )
        ).all()
        assert ohne_vermerk == []
        # Der Inhalt ist beliebiges JSON: die Verschachtelung wird unten nur gelesen.
        antworten: Sequence[dict[str, Any]] = (await sitzung.scalars(select(Ausgang.inhalt))).all()
    bezuege = {
        str(a.get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id")) for a in antworten
    } | {str(a.get("m.relates_to", {}).get("event_id")) for a in antworten}
    assert not bezuege & set(aufgegeben)
    assert await datenbanken.meldungen_je_ereignis(sitzungen, aufgegeben) == dict.fromkeys(
        aufgegeben, 0
    )


async def test_kurzer_ausfall_wird_abgewartet_und_bleibt_unbemerkt(uebung: Uebung) -> None:
    meldung = uebung.nachricht("!meldung waermeplanung gelb 40% kurz gestört", als=PATIN_ENERGIE)
    await uebung.ausfall.beginne()
    beginn = time.monotonic()
    verarbeitet = asyncio.create_task(uebung.verarbeitung.verarbeite(meldung))
    await asyncio.sleep(GEDULD / 2)
    assert not verarbeitet.done()
    await uebung.ausfall.beende()
    await verarbeitet
    dauer = time.monotonic() - beginn
    await uebung.bot.zusteller.zustellen()

    assert GEDULD / 2 <= dauer < GEDULD
    assert uebung.hinweise() == []
    assert [g.reaktion for g in uebung.antworten_auf(meldung.event_id)] == ["✅"]
    assert await datenbanken.meldungen_je_ereignis(uebung.sitzungen, [meldung.event_id]) == {
        meldung.event_id: 1
    }
    await _pruefe_nichts_halbes(uebung.sitzungen, [])
    # Für /metrics: der Ausfall ist gezählt, der Befehl einmal (nicht je Versuch), mit Wartezeit.
    register = uebung.bot.metriken.register
    assert register.get_sample_value("klimabot_datenbankfehler_total", {"teil": "verarbeitung"})
    ok = {"befehl": "meldung", "ergebnis": "ok"}
    assert register.get_sample_value("klimabot_befehle_total", ok) == 1
    assert (register.get_sample_value("klimabot_antwortzeit_sekunden_sum") or 0) >= GEDULD / 2


async def test_hinweis_in_einen_raum_der_kurz_nicht_will_haelt_die_verarbeitung_nicht_an(
    uebung: Uebung,
) -> None:
    """„Nicht im Raum“ ist für den Hinweis ein Fehler wie jeder vorübergehende: erneut, begrenzt."""
    uebung.bot.rekorder.stoerungen[RAUM_ENERGIE] = [NichtImRaum("M_FORBIDDEN: gleich wieder")]
    meldung = uebung.nachricht("!meldung waermeplanung rot 10% Ausfall", als=PATIN_ENERGIE)
    await uebung.ausfall.beginne()
    await uebung.verarbeitung.verarbeite(meldung)
    [hinweis] = uebung.hinweise()
    assert hinweis.inhalt["m.relates_to"] == {"m.in_reply_to": {"event_id": meldung.event_id}}


async def test_langer_ausfall_gibt_hinweis_und_die_meldung_nie_doppelt(
    uebung: Uebung, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.verarbeitung")
    meldung = uebung.nachricht("!meldung waermeplanung rot 10% Ausfall", als=PATIN_ENERGIE)
    await uebung.ausfall.beginne()
    beginn = time.monotonic()
    await uebung.verarbeitung.verarbeite(meldung)
    dauer = time.monotonic() - beginn

    assert GEDULD <= dauer < GEDULD + 1.5
    [hinweis] = uebung.gesendet
    assert HINWEIS in hinweis.text
    assert hinweis.inhalt["m.relates_to"] == {"m.in_reply_to": {"event_id": meldung.event_id}}
    assert hinweis.inhalt["m.mentions"] == {"user_ids": [PATIN_ENERGIE]}
    assert f"{meldung.event_id} von {PATIN_ENERGIE}" in caplog.text

    # Die Sync-Schleife bringt das Ereignis noch einmal – im Ausfall und danach.
    await uebung.verarbeitung.verarbeite(meldung)
    await uebung.ausfall.beende()
    await uebung.verarbeitung.verarbeite(meldung)
    # Die Person versucht es erneut: das gilt, einmal.
    erneut = uebung.nachricht("!meldung waermeplanung rot 10% Ausfall", als=PATIN_ENERGIE)
    await uebung.verarbeitung.verarbeite(erneut)
    await uebung.bot.zusteller.zustellen()

    assert uebung.hinweise() == [hinweis]
    assert [g.reaktion for g in uebung.antworten_auf(erneut.event_id)] == ["✅"]
    assert await datenbanken.meldungen_je_ereignis(
        uebung.sitzungen, [meldung.event_id, erneut.event_id]
    ) == {
        meldung.event_id: 0,
        erneut.event_id: 1,
    }
    await _pruefe_nichts_halbes(uebung.sitzungen, [meldung.event_id])
    # Nach einem Neustart weiß es die Datenbank: das Aufgegebene bleibt aufgegeben.
    await uebung.neue_verarbeitung().verarbeite(meldung)
    await uebung.bot.zusteller.zustellen()
    assert uebung.antworten_auf(meldung.event_id) == [hinweis]
    assert await datenbanken.meldungen_je_ereignis(uebung.sitzungen, [meldung.event_id]) == {
        meldung.event_id: 0
    }


async def test_stapel_im_ausfall_kostet_die_geduld_nur_einmal(uebung: Uebung) -> None:
    """Zehn Ereignisse, wie ein Sync sie bringt; Hinweise nur, wo der Bot sonst antwortet."""
    meldungen = [
        uebung.nachricht(f"!meldung pv-offensive gelb {10 * i}% Schub {i}", als=MELDENDE[i % 4])
        for i in range(4)
    ]
    status = uebung.nachricht("!status energie", als=KOORDINATION_ENERGIE)
    antwort = uebung.nachricht(
        "gelb, 40 %, Gutachten fehlt", als=PATIN_ENERGIE, antwort_auf="$zeile"
    )
    reaktion = uebung.ereignis("m.reaction", reaktionsinhalt("$zeile", "🟢"), als=PATIN_ENERGIE)
    korrektur = uebung.ereignis(
        "m.room.message",
        bearbeitung(meldungen[0].event_id, "!meldung pv-offensive rot 10% Schub 0"),
        als=MELDENDE[0],
    )
    unterhaltung = [
        uebung.nachricht("Guten Morgen zusammen!", als=PATIN_ENERGIE),
        uebung.ereignis("m.reaction", reaktionsinhalt(status.event_id, "👍"), als=PATIN_ENERGIE),
    ]
    stapel = [*meldungen, status, antwort, reaktion, korrektur, *unterhaltung]

    await uebung.ausfall.beginne()
    beginn = time.monotonic()
    for ereignis in stapel:
        await uebung.verarbeitung.verarbeite(ereignis)
    dauer = time.monotonic() - beginn
    # Wer erst jetzt schreibt, bekommt noch einen eigenen Versuch, aber keine neue Geduld.
    spaeter = uebung.nachricht("!status energie", als=PATIN_ENERGIE)
    beginn = time.monotonic()
    await uebung.verarbeitung.verarbeite(spaeter)
    dauer_spaeter = time.monotonic() - beginn
    await uebung.ausfall.beende()

    assert len(stapel) == 10
    assert GEDULD <= dauer < GEDULD + 2, dauer
    assert dauer_spaeter < GEDULD / 2
    erwartet = {
        **{m.event_id: m.event_id for m in meldungen},
        status.event_id: status.event_id,
        antwort.event_id: antwort.event_id,
        reaktion.event_id: "$zeile",
        korrektur.event_id: meldungen[0].event_id,
        spaeter.event_id: spaeter.event_id,
    }
    bezuege = [h.inhalt["m.relates_to"]["m.in_reply_to"]["event_id"] for h in uebung.hinweise()]
    assert bezuege == list(erwartet.values())
    assert uebung.gesendet == uebung.hinweise()

    # Danach läuft alles wie gewohnt.
    neu = uebung.nachricht("!status energie", als=KOORDINATION_ENERGIE)
    await uebung.verarbeitung.verarbeite(neu)
    await uebung.bot.zusteller.zustellen()
    assert "Wärmeplanung" in uebung.antworten_auf(neu.event_id)[0].text
    await _pruefe_nichts_halbes(uebung.sitzungen, [e.event_id for e in [*stapel, spaeter]])


class _CommitBrichtAb(AsyncSession):
    """Der Commit kommt beim Server an, die Bestätigung nicht (Verbindung bricht ab)."""

    abbrechen = 0

    async def commit(self) -> None:
        await super().commit()
        if _CommitBrichtAb.abbrechen:
            _CommitBrichtAb.abbrechen -= 1
            raise OperationalError("COMMIT", {}, ConnectionResetError("Verbindung verloren"))


async def test_abgebrochener_commit_gibt_keinen_hinweis_und_nichts_doppelt(
    uebung: Uebung,
) -> None:
    sitzungen: Sitzungsfabrik = async_sessionmaker(
        uebung.sitzungen.kw["bind"], class_=_CommitBrichtAb, expire_on_commit=False
    )
    verarbeitung = uebung.neue_verarbeitung(sitzungen)
    meldung = uebung.nachricht("!meldung waermeplanung gruen 50% knapp", als=PATIN_ENERGIE)
    _CommitBrichtAb.abbrechen = 1
    with pytest.raises(DatenbankNichtErreichbar):
        await verarbeitung.verarbeite(meldung)
    # Die Sync-Schleife wiederholt, die Datenbank ist inzwischen ausgefallen: wer nicht weiß,
    # ob gespeichert wurde, sagt nicht „Bitte später erneut versuchen“, sondern fragt später
    # nach. (Die gesperrte SQLite-Datei lässt lesen: da steht der Vermerk schon.)
    await uebung.ausfall.beginne()
    beginn = time.monotonic()
    with contextlib.suppress(DatenbankNichtErreichbar):
        await verarbeitung.verarbeite(meldung)
    assert time.monotonic() - beginn < GEDULD
    assert uebung.hinweise() == []
    await uebung.ausfall.beende()
    await verarbeitung.verarbeite(meldung)
    await uebung.bot.zusteller.zustellen()

    assert uebung.hinweise() == []
    assert [g.reaktion for g in uebung.antworten_auf(meldung.event_id)] == ["✅"]
    assert await datenbanken.meldungen_je_ereignis(uebung.sitzungen, [meldung.event_id]) == {
        meldung.event_id: 1
    }


@contextlib.asynccontextmanager
async def _stottern(uebung: Uebung) -> AsyncIterator[list[float]]:
    """Stört die Datenbank immer wieder kurz: PostgreSQL beendet Verbindungen mitten in der
    Transaktion, ein anderer Schreiber sperrt die SQLite-Datei länger, als der Bot wartet."""
    stoerungen: list[float] = []
    # Erst stören, dann arbeiten: sonst ist die schnelle Arbeit getan, bevor die Störung steht.
    bereit = asyncio.Event()

    async def sqlite_sperren() -> None:
        while True:
            await uebung.ausfall.beginne()
            stoerungen.append(time.monotonic())
            bereit.set()
            await asyncio.sleep(SQLITE_WARTEZEIT * 1.5)
            await uebung.ausfall.beende()
            await asyncio.sleep(0.2)

    if isinstance(uebung.ausfall, PostgresAbgeschaltet):
        stoeren = uebung.ausfall.unterbreche_transaktionen(0.3, stoerungen, bereit)
    else:
        stoeren = sqlite_sperren()
    aufgabe = asyncio.create_task(stoeren)
    try:
        await asyncio.wait_for(bereit.wait(), timeout=10)
        yield stoerungen
    finally:
        aufgabe.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await aufgabe
        await uebung.ausfall.beende()


async def _wie_die_syncschleife(verarbeitung: Verarbeitung, stapel: list[Ereignis]) -> int:
    """Verarbeitet einen Stapel wie `bot.sync.Syncschleife`: wirft ein Ereignis
    `DatenbankNichtErreichbar`, kommt nach einer Pause der ganze Stapel noch einmal.
    Gibt zurück, wie oft."""
    wiederholt = 0
    while True:
        try:
            for ereignis in stapel:
                await verarbeitung.verarbeite(ereignis)
        except DatenbankNichtErreichbar:
            wiederholt += 1
            await asyncio.sleep(0.2)
        else:
            return wiederholt


async def test_stotternde_datenbank_verliert_und_verdoppelt_nichts(
    uebung: Uebung, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.verarbeitung")
    # Gearbeitet wird, bis die Störungen mehrmals trafen: Seit Issue 13 braucht eine Meldung nur
    # noch Millisekunden, eine feste Zahl war manchmal fertig, bevor es traf – oder der eine
    # Treffer fiel auf das Zurücksetzen einer Verbindung im Pool, das der Bot nicht bemerkt.
    # Höchstens 72 Meldungen: je Person unter dem Stoß der Flutgrenze (20).
    meldungen: list[Ereignis] = []
    wiederholt = 0
    beginn = time.monotonic()
    async with _stottern(uebung) as stoerungen:
        for runde in range(12):
            if len(stoerungen) >= 3 and runde >= 5:
                break
            stapel = [
                uebung.nachricht(
                    f"!meldung waermeplanung gelb {runde}% Stottern {runde}-{i}",
                    als=MELDENDE[(runde * 6 + i) % 4],
                )
                for i in range(6)
            ]
            wiederholt += await _wie_die_syncschleife(uebung.verarbeitung, stapel)
            meldungen += stapel
    dauer = time.monotonic() - beginn
    await uebung.bot.zusteller.zustellen()

    getroffen = [r for r in caplog.records if r.name == "bot.verarbeitung"]
    # Die Störungen trafen wirklich: Versuche scheiterten und wurden wiederholt.
    assert getroffen, (stoerungen, wiederholt)
    assert uebung.hinweise() == []
    assert "Interner Fehler" not in caplog.text
    for meldung in meldungen:
        assert [g.reaktion for g in uebung.antworten_auf(meldung.event_id)] == ["✅"]
    ids = [m.event_id for m in meldungen]
    assert await datenbanken.meldungen_je_ereignis(uebung.sitzungen, ids) == dict.fromkeys(ids, 1)
    await _pruefe_nichts_halbes(uebung.sitzungen, [])
    assert dauer < 30


async def test_ausgangskorb_ueberlebt_den_ausfall_und_stellt_danach_zu(uebung: Uebung) -> None:
    meldung = uebung.nachricht("!meldung waermeplanung gelb 30% vor dem Ausfall", als=PATIN_ENERGIE)
    await uebung.verarbeitung.verarbeite(meldung)  # die Quittung wartet im Ausgangskorb
    zusteller = Zusteller(uebung.sitzungen, uebung.bot.rekorder, erste_pause=0.05)
    await uebung.ausfall.beginne()
    aufgabe = asyncio.create_task(zusteller.laufen())
    try:
        await asyncio.sleep(SQLITE_WARTEZEIT * 3)
        await uebung.ausfall.beende()
        zusteller.wecken()
        await asyncio.sleep(0.5)
        assert not aufgabe.done(), aufgabe.exception()
    finally:
        aufgabe.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await aufgabe
    assert [g.reaktion for g in uebung.antworten_auf(meldung.event_id)] == ["✅"]
