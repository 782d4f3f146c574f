"""Aufbewahrung: nach der Frist verschwinden behandelte Ereignisse und erledigte Nachrichten –
nie, was „genau einmal“ noch braucht – und die Datenbank wächst über ein Jahr nicht mit."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.aufbewahrung import Aufbewahrung
from modelle.aufbewahrung import raeume_auf
from modelle.basis import jetzt
from modelle.datenbank import Sitzungsfabrik
from modelle.tabellen import (
    Ausgang,
    VerarbeitetesEreignis,
    Versand,
    Versandart,
    Versandstatus,
)
from tests.testbot import PATIN_ENERGIE, RAUM_ENERGIE, Testbot

HEUTE = dt.datetime(2026, 12, 5, 2, 30, tzinfo=dt.UTC)


def vor(tage: float) -> dt.datetime:
    return HEUTE - dt.timedelta(days=tage)


def _nachricht(
    txn: str,
    erstellt: dt.datetime,
    *,
    gesendet: bool = True,
    aufgegeben: bool = False,
    inhalt: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "txn_id": txn,
        "raum_id": "!raum:example.org",
        "ereignistyp": "m.room.message",
        "inhalt": inhalt or {"msgtype": "m.notice", "body": txn},
        "projekte": [],
        "erstellt": erstellt,
        "versuche": 1,
        "event_id": f"${txn}" if gesendet else None,
        "gesendet_am": erstellt if gesendet else None,
        "aufgegeben_am": erstellt if aufgegeben else None,
    }


async def _wochenbericht(sitzungen: Sitzungsfabrik, erstellt: dt.datetime) -> None:
    async with sitzungen.begin() as sitzung:
        sitzung.add(
            Versand(
                schluessel=f"wochenbericht:{erstellt.isoformat()}",
                art=Versandart.WOCHENBERICHT,
                termin=erstellt,
                faellig_am=erstellt,
                status=Versandstatus.GESENDET,
                erstellt=erstellt,
            )
        )


async def _txns(sitzungen: Sitzungsfabrik) -> set[str]:
    async with sitzungen() as sitzung:
        return set(await sitzung.scalars(select(Ausgang.txn_id)))


async def test_alte_vermerke_und_gesendete_nachrichten_weg_neue_und_offene_bleiben(
    sitzungen: Sitzungsfabrik,
) -> None:
    await _wochenbericht(sitzungen, vor(95))
    async with sitzungen.begin() as sitzung:
        await sitzung.execute(
            insert(VerarbeitetesEreignis),
            [
                {"event_id": "$alt", "zeitpunkt": vor(91)},
                {"event_id": "$frisch", "zeitpunkt": vor(89)},
            ],
        )
        await sitzung.execute(
            insert(Ausgang),
            [
                _nachricht("gesendet-alt", vor(200)),
                _nachricht("gesendet-frisch", vor(30)),
                # berichtet (vor dem Wochenbericht aufgegeben) und alt: weg
                _nachricht("aufgegeben-berichtet", vor(97), gesendet=False, aufgegeben=True),
                # noch in keinem Wochenbericht genannt: bleibt, auch wenn älter als die Frist
                _nachricht("aufgegeben-offen", vor(93), gesendet=False, aufgegeben=True),
            ],
        )

    async with sitzungen.begin() as sitzung:
        geraeumt = await raeume_auf(sitzung, jetzt=HEUTE, tage=90)

    assert (geraeumt.ereignisse, geraeumt.nachrichten) == (1, 2)
    async with sitzungen() as sitzung:
        assert list(await sitzung.scalars(select(VerarbeitetesEreignis.event_id))) == ["$frisch"]
        assert await sitzung.scalar(select(func.count()).select_from(Versand)) == 1
    assert await _txns(sitzungen) == {"gesendet-frisch", "aufgegeben-offen"}


async def test_offene_nachricht_bleibt_und_haelt_ihre_hauptnachricht(
    sitzungen: Sitzungsfabrik,
) -> None:
    """Eine Folge im Thread, die seit Monaten auf den Homeserver wartet, findet ihre
    Hauptnachricht (`ausgang:<txn>`) noch; nur deutlich Älteres wird gelöscht."""
    async with sitzungen.begin() as sitzung:
        await sitzung.execute(
            insert(Ausgang),
            [
                _nachricht("davor", vor(150)),
                _nachricht("kopf", vor(120)),
                _nachricht(
                    "folge",
                    vor(120) + dt.timedelta(milliseconds=3),
                    gesendet=False,
                    inhalt={"m.relates_to": {"rel_type": "m.thread", "event_id": "ausgang:kopf"}},
                ),
            ],
        )

    async with sitzungen.begin() as sitzung:
        await raeume_auf(sitzung, jetzt=HEUTE, tage=90)

    assert await _txns(sitzungen) == {"kopf", "folge"}


async def test_ohne_gesendeten_wochenbericht_bleiben_aufgegebene(
    sitzungen: Sitzungsfabrik,
) -> None:
    async with sitzungen.begin() as sitzung:
        await sitzung.execute(
            insert(Ausgang), [_nachricht("aufgegeben", vor(300), gesendet=False, aufgegeben=True)]
        )
    async with sitzungen.begin() as sitzung:
        await raeume_auf(sitzung, jetzt=HEUTE, tage=90)
    assert await _txns(sitzungen) == {"aufgegeben"}


async def test_vor_dem_ersten_sync_wird_nicht_aufgeraeumt(sitzungen: Sitzungsfabrik) -> None:
    """Nach langem Stillstand sind die letzten Vermerke älter als die Frist – und doch die
    Marken, an denen das Nachholen aufhört. Erst nach dem ersten Sync darf weg, was alt ist."""
    async with sitzungen.begin() as sitzung:
        sitzung.add(VerarbeitetesEreignis(event_id="$marke", zeitpunkt=vor(120)))
    bereit = False
    aufbewahrung = Aufbewahrung(sitzungen, tage=90, bereit=lambda: bereit, uhr=lambda: HEUTE)

    assert await aufbewahrung.raeume_auf() is None
    bereit = True
    geraeumt = await aufbewahrung.raeume_auf()

    assert geraeumt is not None
    assert geraeumt.ereignisse == 1


async def test_antwort_auf_nachricht_aelter_als_frist_ist_keine_meldung(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    """Was eine Antwort auf eine 100 Tage alte Nachricht des Bots tut: nichts. Der Bot kennt
    sie nicht mehr als seine; melden geht mit `!meldung` (die Einstellung sagt es)."""
    projekt = await testbot.sende("!status pv-offensive", als=PATIN_ENERGIE, raum=RAUM_ENERGIE)
    alt = projekt.nachricht.event_id
    frisch = await testbot.sende(
        "gelb, 30 %, Dachstatik geprüft", als=PATIN_ENERGIE, raum=RAUM_ENERGIE, antwort_auf=alt
    )
    assert frisch.reaktionen == ["✅"]  # innerhalb der Frist: eine Meldung

    spaeter = jetzt() + dt.timedelta(days=100)
    async with sitzungen.begin() as sitzung:
        await raeume_auf(sitzung, jetzt=spaeter, tage=90)
    testbot.jetzt = spaeter

    antwort = await testbot.sende(
        "rot, 10 %, Förderung gestrichen", als=PATIN_ENERGIE, raum=RAUM_ENERGIE, antwort_auf=alt
    )
    assert antwort.alle == []
    stand = await testbot.sende("!status pv-offensive", als=PATIN_ENERGIE, raum=RAUM_ENERGIE)
    assert "Förderung gestrichen" not in stand.text
    assert "Dachstatik geprüft" in stand.text


# --- Ein Jahr Betrieb -------------------------------------------------------------------

EREIGNISSE_JE_TAG = 150
NACHRICHTEN_JE_TAG = 40
INHALT = {"msgtype": "m.notice", "body": "Stand " + "x" * 600, "format": "org.matrix.custom.html"}


async def _groesse(engine: AsyncEngine) -> int:
    """Belegte Größe der beiden Tabellen: SQLite die Datei (Seiten), PostgreSQL die Zeilen."""
    async with engine.connect() as verbindung:
        if engine.dialect.name == "sqlite":
            seiten = await verbindung.scalar(text("PRAGMA page_count"))
            groesse = await verbindung.scalar(text("PRAGMA page_size"))
            return int(seiten) * int(groesse)
        return int(
            await verbindung.scalar(
                text(
                    "SELECT (SELECT count(*) FROM ausgang)"
                    " + (SELECT count(*) FROM verarbeitetes_ereignis)"
                )
            )
        )


async def test_ein_jahr_betrieb_mit_aufraeumen_bleibt_begrenzt(
    engine: AsyncEngine, sitzungen: Sitzungsfabrik
) -> None:
    """365 Tage Verkehr, jeden Tag aufgeräumt: nach der Frist wächst nichts mehr."""
    beginn = time.monotonic()
    start = HEUTE - dt.timedelta(days=365)
    groessen: dict[int, int] = {}
    for tag in range(365):
        heute = start + dt.timedelta(days=tag)
        async with sitzungen.begin() as sitzung:
            await sitzung.execute(
                insert(VerarbeitetesEreignis),
                [
                    {"event_id": f"$t{tag}e{n}", "zeitpunkt": heute}
                    for n in range(EREIGNISSE_JE_TAG)
                ],
            )
            await sitzung.execute(
                insert(Ausgang),
                [
                    _nachricht(f"t{tag}n{n}", heute, inhalt=INHALT)
                    for n in range(NACHRICHTEN_JE_TAG)
                ],
            )
            await raeume_auf(sitzung, jetzt=heute, tage=90)
        if tag in (120, 364):
            groessen[tag] = await _groesse(engine)

    async with sitzungen() as sitzung:
        ereignisse = await sitzung.scalar(select(func.count()).select_from(VerarbeitetesEreignis))
        nachrichten = await sitzung.scalar(select(func.count()).select_from(Ausgang))
    dauer = time.monotonic() - beginn
    print(
        f"\n{engine.dialect.name}: nach 365 Tagen {ereignisse} Ereignisse, {nachrichten}"
        f" Nachrichten; Größe Tag 120 {groessen[120]}, Tag 364 {groessen[364]} ({dauer:.1f} s)"
    )
    # Die Frist ist 90 Tage: Tag 274 (genau 90 Tage alt) bis 364 bleiben, davor ist alles weg.
    assert ereignisse == 91 * EREIGNISSE_JE_TAG
    assert nachrichten == 91 * NACHRICHTEN_JE_TAG
    # Was gelöscht ist, wird wiederverwendet: die SQLite-Datei wächst nach der Frist nicht mehr.
    assert groessen[364] <= groessen[120] * 1.05
