"""Was fällig ist, entscheidet die Aufzeichnung: nie doppelt, nach Ausfall nachgeholt oder
übersprungen, Erinnerungen vom Raum bis zur Direktnachricht – mit eingespeister Uhr."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.ausgang import NACHRICHT, einreihen
from bot.zusteller import Zusteller
from modelle.datenbank import Sitzungsfabrik
from modelle.tabellen import (
    Aenderung,
    Ausgang,
    Person,
    Raum,
    Rollenzuweisung,
    Statusmeldung,
    Strategieprojekt,
    Themenfeld,
    Versand,
)
from modelle.versand import (
    Erinnerung,
    Faelligkeit,
    Versandart,
    Versandstatus,
    faellige_abfragen,
    faellige_erinnerungen,
    faelliger_wochenbericht,
    letzter_wochenbericht,
    reserviere,
    vermerke_event,
    versaeumte_seit,
)
from modelle.werte import Ampel, Quelle, Rolle
from modelle.zeitplan import Zeitplan
from tests.anweisungen import Anweisungen

BERLIN = ZoneInfo("Europe/Berlin")
MONTAGS = Zeitplan.aus_text("mo 09:00")
FREITAGS = Zeitplan.aus_text("fr 14:00")
NACHHOLFRIST = dt.timedelta(hours=12)
RAUM = "!energie:example.org"


def berlin(
    jahr: int, monat: int, tag: int, stunde: int = 0, minute: int = 0, sekunde: int = 0
) -> dt.datetime:
    """Eine Ortszeit in Berlin als UTC: so liest man die Tests, so speichert die Datenbank."""
    return dt.datetime(jahr, monat, tag, stunde, minute, sekunde, tzinfo=BERLIN).astimezone(dt.UTC)


class Bestand:
    """Ein Themenfeld „energie“ mit Raum, Pat*in, zwei Koordinator*innen und Projekten."""

    def __init__(self, sitzungen: Sitzungsfabrik) -> None:
        self.sitzungen = sitzungen
        self.feld_id = 0

    async def feld(
        self,
        slug: str = "energie",
        *,
        abfrage: str | None = None,
        frist: int = 14,
        patin: bool = True,
        angelegt: dt.datetime | None = None,
    ) -> int:
        async with self.sitzungen.begin() as s:
            feld = Themenfeld(
                slug=slug, name=slug.capitalize(), abfrage=abfrage, ueberfaellig_nach_tagen=frist
            )
            s.add(feld)
            await s.flush()
            s.add(
                Raum(
                    adresse=f"#{slug}:example.org",
                    raum_id=f"!{slug}:example.org",
                    themenfeld_id=feld.id,
                )
            )
            namen = ["Anna", "Cem", "Ben"] if patin else ["Cem", "Ben"]
            for name in namen:
                person = Person(matrix_id=f"@{name.lower()}.{slug}:example.org", anzeigename=name)
                s.add(person)
                await s.flush()
                rolle = Rolle.PATIN if name == "Anna" else Rolle.KOORDINATION
                s.add(Rollenzuweisung(person_id=person.id, rolle=rolle, themenfeld_id=feld.id))
            if angelegt is not None:
                s.add(self._protokoll("themenfeld", slug, "angelegt", angelegt))
            self.feld_id = feld.id
            return feld.id

    async def projekt(
        self,
        slug: str = "waermeplanung",
        *,
        feld_id: int | None = None,
        angelegt: dt.datetime | None = None,
        archiviert: bool = False,
    ) -> int:
        async with self.sitzungen.begin() as s:
            projekt = Strategieprojekt(
                slug=slug,
                titel=slug.capitalize(),
                themenfeld_id=feld_id or self.feld_id,
                archiviert=archiviert,
            )
            s.add(projekt)
            if angelegt is not None:
                s.add(self._protokoll("projekt", slug, "angelegt", angelegt))
            await s.flush()
            return projekt.id

    async def meldung(
        self,
        projekt_id: int,
        zeitpunkt: dt.datetime,
        ampel: Ampel = Ampel.GRUEN,
        *,
        zurueckgezogen: bool = False,
    ) -> None:
        async with self.sitzungen.begin() as s:
            s.add(
                Statusmeldung(
                    projekt_id=projekt_id,
                    zeitpunkt=zeitpunkt,
                    ampel=ampel,
                    quelle=Quelle.BEFEHL,
                    zurueckgezogen=zurueckgezogen,
                )
            )

    async def protokoll(self, art: str, slug: str, feld: str, zeitpunkt: dt.datetime) -> None:
        async with self.sitzungen.begin() as s:
            s.add(self._protokoll(art, slug, feld, zeitpunkt))

    @staticmethod
    def _protokoll(art: str, slug: str, feld: str, zeitpunkt: dt.datetime) -> Aenderung:
        neu = "nein" if feld == "archiviert" else slug
        return Aenderung(
            zeitpunkt=zeitpunkt, wer="Test", objekt_art=art, objekt=slug, feld=feld, neu=neu
        )


@pytest.fixture
async def bestand(sitzungen: Sitzungsfabrik) -> Bestand:
    aufbau = Bestand(sitzungen)
    await aufbau.feld()
    await aufbau.projekt()
    return aufbau


async def abfragen(sitzungen: Sitzungsfabrik, jetzt: dt.datetime) -> list[Faelligkeit]:
    async with sitzungen() as s:
        return await faellige_abfragen(
            s, jetzt=jetzt, zeitzone=BERLIN, standard=MONTAGS, nachholfrist=NACHHOLFRIST
        )


async def wochenbericht(sitzungen: Sitzungsfabrik, jetzt: dt.datetime) -> list[Faelligkeit]:
    async with sitzungen() as s:
        return await faelliger_wochenbericht(
            s, jetzt=jetzt, zeitzone=BERLIN, zeitplan=FREITAGS, nachholfrist=NACHHOLFRIST
        )


async def erinnerungen(sitzungen: Sitzungsfabrik, jetzt: dt.datetime) -> list[Erinnerung]:
    async with sitzungen() as s:
        return await faellige_erinnerungen(s, jetzt=jetzt, zeitzone=BERLIN)


async def bediene(sitzungen: Sitzungsfabrik, faelligkeiten: Sequence[Faelligkeit]) -> list[bool]:
    """Was der Bot tut: jede Fälligkeit reservieren, in einer Transaktion."""
    async with sitzungen.begin() as s:
        return [await reserviere(s, f) for f in faelligkeiten]


async def gesendet(
    sitzungen: Sitzungsfabrik, zeitpunkt: dt.datetime, termin: dt.datetime | None = None
) -> None:
    """Die Abfrage wurde pünktlich gesendet: so beginnt die Aufzeichnung."""
    faellig = await abfragen(sitzungen, zeitpunkt)
    assert [f.termin for f in faellig] == [termin or zeitpunkt]
    assert await bediene(sitzungen, faellig) == [True]


async def gesendet_ohne_pruefung(
    sitzungen: Sitzungsfabrik, feld_id: int, termin: dt.datetime
) -> None:
    """Ein Eintrag von früher, als die Struktur noch anders aussah."""
    async with sitzungen.begin() as s:
        s.add(
            Versand(
                schluessel=f"abfrage:energie:{termin:%Y-%m-%dT%H:%MZ}",
                art=Versandart.ABFRAGE,
                themenfeld_id=feld_id,
                termin=termin,
                faellig_am=termin,
                status=Versandstatus.GESENDET,
                erstellt=termin,
            )
        )


def kurz(faelligkeiten: Sequence[Faelligkeit]) -> list[tuple[str, str]]:
    """(Termin in Ortszeit, Status) je Fälligkeit, zum Vergleichen auf einen Blick."""
    return [
        (f.termin.astimezone(BERLIN).strftime("%d.%m. %H:%M"), f.status.value)
        for f in faelligkeiten
    ]


# --- Abfragen: pünktlich, nie doppelt -------------------------------------------------------


async def test_abfrage_ist_zum_termin_faellig_und_nach_zwei_neustarts_nicht_mehr(
    sitzungen: Sitzungsfabrik, bestand: Bestand
) -> None:
    assert await abfragen(sitzungen, berlin(2026, 11, 23, 8, 59)) == []
    jetzt = berlin(2026, 11, 23, 9, 0, 30)
    (faellig,) = await abfragen(sitzungen, jetzt)
    assert faellig.schluessel == "abfrage:energie:2026-11-23T08:00Z"
    assert faellig.themenfeld_id == bestand.feld_id
    assert faellig.termin == faellig.faellig_am == berlin(2026, 11, 23, 9)
    assert faellig.status is Versandstatus.GESENDET
    assert await bediene(sitzungen, [faellig]) == [True]
    # Neustart und gleich noch einer: jedes Mal neu gerechnet, nichts mehr fällig.
    assert await abfragen(sitzungen, jetzt) == []
    assert await abfragen(sitzungen, jetzt + dt.timedelta(seconds=5)) == []
    # Und wer mit einer alten Rechnung reserviert, bekommt nichts.
    assert await bediene(sitzungen, [faellig]) == [False]
    # Die nächste Woche ist wieder fällig.
    assert kurz(await abfragen(sitzungen, berlin(2026, 11, 30, 9, 1))) == [
        ("30.11. 09:00", "gesendet")
    ]


@pytest.mark.parametrize(
    ("vorwoche", "montag"),
    [
        (berlin(2026, 3, 23, 9), dt.datetime(2026, 3, 30, 7, 0, tzinfo=dt.UTC)),
        (berlin(2026, 10, 19, 9), dt.datetime(2026, 10, 26, 8, 0, tzinfo=dt.UTC)),
    ],
    ids=["maerz", "oktober"],
)
async def test_abfrage_nach_der_zeitumstellung_um_neun_uhr_ortszeit(
    sitzungen: Sitzungsfabrik, bestand: Bestand, vorwoche: dt.datetime, montag: dt.datetime
) -> None:
    await gesendet(sitzungen, vorwoche)
    assert await abfragen(sitzungen, montag - dt.timedelta(minutes=1)) == []
    (faellig,) = await abfragen(sitzungen, montag)
    assert faellig.termin == montag
    assert not faellig.verspaetet


async def test_abfrage_am_ostermontag_kommt_dienstags_um_neun(
    sitzungen: Sitzungsfabrik, bestand: Bestand
) -> None:
    await gesendet(sitzungen, berlin(2026, 3, 30, 9))
    assert await abfragen(sitzungen, berlin(2026, 4, 6, 9, 30)) == []
    assert await abfragen(sitzungen, berlin(2026, 4, 7, 8, 59)) == []
    (faellig,) = await abfragen(sitzungen, berlin(2026, 4, 7, 9, 0, 10))
    assert faellig.termin == berlin(2026, 4, 6, 9)
    assert faellig.faellig_am == berlin(2026, 4, 7, 9)
    assert not faellig.verspaetet
    assert faellig.schluessel == "abfrage:energie:2026-04-06T07:00Z"


async def test_abfrage_am_samstag_kommt_montags(sitzungen: Sitzungsfabrik) -> None:
    aufbau = Bestand(sitzungen)
    await aufbau.feld(abfrage="sa 09:00")
    await aufbau.projekt()
    await gesendet(sitzungen, berlin(2026, 11, 16, 9), termin=berlin(2026, 11, 14, 9))
    assert await abfragen(sitzungen, berlin(2026, 11, 21, 9, 5)) == []
    (faellig,) = await abfragen(sitzungen, berlin(2026, 11, 23, 9))
    assert (faellig.termin, faellig.faellig_am) == (
        berlin(2026, 11, 21, 9),
        berlin(2026, 11, 23, 9),
    )


async def test_karfreitag_und_ostermontag_ergeben_eine_abfrage(sitzungen: Sitzungsfabrik) -> None:
    aufbau = Bestand(sitzungen)
    await aufbau.feld(abfrage="fr,mo 09:00")
    await aufbau.projekt()
    await gesendet(sitzungen, berlin(2026, 3, 30, 9))
    faellig = await abfragen(sitzungen, berlin(2026, 4, 7, 9))
    # Kein übersprungener Karfreitag: er ging im Ostermontag auf.
    assert kurz(faellig) == [("06.04. 09:00", "gesendet")]


async def test_weihnachten_und_neujahr_verschieben_die_abfrage(sitzungen: Sitzungsfabrik) -> None:
    aufbau = Bestand(sitzungen)
    await aufbau.feld(abfrage="fr 09:00")
    await aufbau.projekt()
    await gesendet(sitzungen, berlin(2026, 12, 18, 9))
    assert await abfragen(sitzungen, berlin(2026, 12, 25, 9, 30)) == []
    faellig = await abfragen(sitzungen, berlin(2026, 12, 28, 9))
    assert [(f.faellig_am, f.status) for f in faellig] == [
        (berlin(2026, 12, 28, 9), Versandstatus.GESENDET)
    ]
    await bediene(sitzungen, faellig)
    assert await abfragen(sitzungen, berlin(2027, 1, 1, 9, 30)) == []
    (neujahr,) = await abfragen(sitzungen, berlin(2027, 1, 4, 9))
    assert neujahr.termin == berlin(2027, 1, 1, 9)


async def test_feld_ohne_aktive_projekte_bekommt_keine_abfrage(sitzungen: Sitzungsfabrik) -> None:
    aufbau = Bestand(sitzungen)
    await aufbau.feld("leer")
    await aufbau.feld("archiv")
    await aufbau.projekt("altlast", archiviert=True)
    mit = await aufbau.feld("energie")
    await aufbau.projekt()
    faellig = await abfragen(sitzungen, berlin(2026, 11, 23, 9))
    assert [f.themenfeld_id for f in faellig] == [mit]


# --- Ausfallzeiten ------------------------------------------------------------------------


async def test_abfrage_nach_ausfall_in_der_nachholfrist_einmal_und_verspaetet(
    sitzungen: Sitzungsfabrik, bestand: Bestand
) -> None:
    await gesendet(sitzungen, berlin(2026, 11, 16, 9))
    # Der Bot war von Sonntag bis Montag 15 Uhr weg.
    jetzt = berlin(2026, 11, 23, 15)
    (faellig,) = await abfragen(sitzungen, jetzt)
    assert faellig.termin == berlin(2026, 11, 23, 9)
    assert faellig.verspaetet
    assert faellig.status is Versandstatus.VERSPAETET
    assert await bediene(sitzungen, [faellig]) == [True]
    assert await abfragen(sitzungen, jetzt) == []
    # Wenige Minuten nach dem Termin ist noch pünktlich.
    (naechste,) = await abfragen(sitzungen, berlin(2026, 11, 30, 9, 4))
    assert not naechste.verspaetet


async def test_abfrage_jenseits_der_nachholfrist_wird_uebersprungen_und_berichtet(
    sitzungen: Sitzungsfabrik, bestand: Bestand
) -> None:
    await gesendet(sitzungen, berlin(2026, 11, 16, 9))
    jetzt = berlin(2026, 11, 24, 10)
    (faellig,) = await abfragen(sitzungen, jetzt)
    assert faellig.ueberspringen
    assert faellig.status is Versandstatus.UEBERSPRUNGEN
    assert await bediene(sitzungen, [faellig]) == [True]
    assert await abfragen(sitzungen, jetzt) == []
    async with sitzungen() as s:
        (versaeumt,) = await versaeumte_seit(s, berlin(2026, 11, 20, 14))
        assert versaeumt.art is Versandart.ABFRAGE
        assert versaeumt.themenfeld_slug == "energie"
        assert versaeumt.termin == berlin(2026, 11, 23, 9)
        assert versaeumt.erstellt == jetzt
        # Einmal berichtet, danach nicht mehr.
        assert await versaeumte_seit(s, berlin(2026, 11, 27, 14)) == []
    assert kurz(await abfragen(sitzungen, berlin(2026, 11, 30, 9))) == [
        ("30.11. 09:00", "gesendet")
    ]


async def test_lange_ausfallzeit_meldet_die_verpassten_abfragen_begrenzt(
    sitzungen: Sitzungsfabrik, bestand: Bestand
) -> None:
    await gesendet(sitzungen, berlin(2026, 10, 5, 9))
    faellig = await abfragen(sitzungen, berlin(2026, 11, 23, 9, 30))
    assert kurz(faellig) == [
        ("23.11. 09:00", "verspaetet"),
        ("16.11. 09:00", "uebersprungen"),
        ("09.11. 09:00", "uebersprungen"),
        ("02.11. 09:00", "uebersprungen"),
        ("26.10. 09:00", "uebersprungen"),
        ("19.10. 09:00", "uebersprungen"),
        ("12.10. 09:00", "uebersprungen"),
    ]
    assert all(await bediene(sitzungen, faellig))
    assert await abfragen(sitzungen, berlin(2026, 11, 23, 9, 30)) == []
    async with sitzungen() as s:
        assert len(await versaeumte_seit(s, None)) == 6

    # Nach einem halben Jahr Pause: eine Abfrage und höchstens acht Versäumnisse.
    faellig = await abfragen(sitzungen, berlin(2027, 5, 10, 10))
    assert [f.status for f in faellig] == [Versandstatus.VERSPAETET] + [
        Versandstatus.UEBERSPRUNGEN
    ] * 8


async def test_ohne_jede_aufzeichnung_nur_was_in_der_nachholfrist_liegt(
    sitzungen: Sitzungsfabrik, bestand: Bestand
) -> None:
    # Neue Installation am Mittwoch: der Montag ist vorbei, aber nicht versäumt.
    assert await abfragen(sitzungen, berlin(2026, 11, 25, 10)) == []
    assert kurz(await abfragen(sitzungen, berlin(2026, 11, 23, 10))) == [
        ("23.11. 09:00", "verspaetet")
    ]


async def test_pause_ohne_projekte_ist_kein_versaeumnis(sitzungen: Sitzungsfabrik) -> None:
    aufbau = Bestand(sitzungen)
    await aufbau.feld()
    await aufbau.projekt("alt", archiviert=True)
    await gesendet_ohne_pruefung(sitzungen, aufbau.feld_id, berlin(2026, 6, 1, 9))
    # Monate ohne aktives Projekt, dann kommt eines dazu (laut Protokoll am 18.11.).
    await aufbau.projekt(angelegt=berlin(2026, 11, 18, 16))
    assert kurz(await abfragen(sitzungen, berlin(2026, 11, 23, 9))) == [
        ("23.11. 09:00", "gesendet")
    ]


async def test_nach_zeitplanwechsel_keine_versaeumnisse_des_alten_plans(
    sitzungen: Sitzungsfabrik, bestand: Bestand
) -> None:
    await gesendet(sitzungen, berlin(2026, 11, 23, 9))
    async with sitzungen.begin() as s:
        feld = await s.get_one(Themenfeld, bestand.feld_id)
        feld.abfrage = "mo,do 08:00"
    # Der neue Plan hätte schon Montag 08:00 gehabt: das ist vorbei und bedient.
    assert await abfragen(sitzungen, berlin(2026, 11, 23, 10)) == []
    assert kurz(await abfragen(sitzungen, berlin(2026, 11, 26, 8))) == [
        ("26.11. 08:00", "gesendet")
    ]


# --- Genau einmal: Absturz und Wettlauf -----------------------------------------------------


class Transport:
    def __init__(self) -> None:
        self.gesendet: dict[str, str] = {}

    async def sende(
        self, raum_id: str, ereignistyp: str, inhalt: dict[str, Any], txn_id: str
    ) -> str:
        return self.gesendet.setdefault(txn_id, f"$ev{len(self.gesendet) + 1}")


async def sende_abfragen(sitzungen: Sitzungsfabrik, jetzt: dt.datetime) -> int:
    """Der Ablauf des Bots: reservieren und einreihen in einer Transaktion."""
    gesendet = 0
    async with sitzungen.begin() as s:
        for faellig in await faellige_abfragen(
            s, jetzt=jetzt, zeitzone=BERLIN, standard=MONTAGS, nachholfrist=NACHHOLFRIST
        ):
            if await reserviere(s, faellig) and not faellig.ueberspringen:
                einreihen(s, RAUM, NACHRICHT, {"body": f"Abfrage {faellig.schluessel}"})
                gesendet += 1
    return gesendet


async def test_absturz_direkt_nach_dem_senden_sendet_nach_neustart_nicht_nochmal(
    sitzungen: Sitzungsfabrik, bestand: Bestand
) -> None:
    transport = Transport()
    jetzt = berlin(2026, 11, 23, 9)
    assert await sende_abfragen(sitzungen, jetzt) == 1
    assert await Zusteller(sitzungen, transport).zustellen() == 1  # type: ignore[arg-type]
    # Absturz. Neuer Prozess, neue Zusteller, dieselbe Datenbank:
    nach_neustart = Zusteller(sitzungen, transport)  # type: ignore[arg-type]
    assert await sende_abfragen(sitzungen, jetzt + dt.timedelta(seconds=20)) == 0
    assert await nach_neustart.zustellen() == 0
    assert len(transport.gesendet) == 1
    async with sitzungen() as s:
        assert await s.scalar(select(func.count()).select_from(Ausgang)) == 1


async def test_absturz_vor_dem_commit_verliert_die_abfrage_nicht(
    sitzungen: Sitzungsfabrik, bestand: Bestand
) -> None:
    jetzt = berlin(2026, 11, 23, 9)
    (faellig,) = await abfragen(sitzungen, jetzt)

    async def abstuerzen() -> None:
        async with sitzungen.begin() as s:
            assert await reserviere(s, faellig)
            einreihen(s, RAUM, NACHRICHT, {"body": "Abfrage"})
            raise RuntimeError("Absturz vor dem Commit")

    with pytest.raises(RuntimeError):
        await abstuerzen()
    assert await sende_abfragen(sitzungen, jetzt + dt.timedelta(seconds=30)) == 1


@pytest.mark.parametrize("erste_endet_mit", ["commit", "rollback"])
async def test_zwei_gleichzeitige_reservierungen_nur_eine_gewinnt(
    sitzungen: Sitzungsfabrik, bestand: Bestand, erste_endet_mit: str
) -> None:
    (faellig,) = await abfragen(sitzungen, berlin(2026, 11, 23, 9))

    async def zweiter_start() -> bool:
        async with sitzungen.begin() as s:
            return await reserviere(s, faellig)

    async with sitzungen() as erster:
        assert await reserviere(erster, faellig)
        zweiter = asyncio.create_task(zweiter_start())
        await asyncio.sleep(0.3)
        # Der zweite wartet auf den Ausgang des ersten, statt blind einzufügen.
        assert not zweiter.done()
        if erste_endet_mit == "commit":
            await erster.commit()
        else:
            await erster.rollback()
        gewonnen = await asyncio.wait_for(zweiter, timeout=10)
    assert gewonnen is (erste_endet_mit == "rollback")
    async with sitzungen() as s:
        assert await s.scalar(select(func.count()).select_from(Versand)) == 1


async def test_vorhandene_reservierung_laesst_die_transaktion_benutzbar(
    sitzungen: Sitzungsfabrik, bestand: Bestand
) -> None:
    (faellig,) = await abfragen(sitzungen, berlin(2026, 11, 23, 9))
    await bediene(sitzungen, [faellig])
    async with sitzungen.begin() as s:
        # Ein zweiter Versuch mit neuer Uhr ist dieselbe Periode; danach geht es normal weiter.
        spaeter = replace(faellig, festgestellt=faellig.festgestellt + dt.timedelta(seconds=1))
        assert not await reserviere(s, spaeter)
        einreihen(s, RAUM, NACHRICHT, {"body": "anderes"})
    async with sitzungen() as s:
        assert await s.scalar(select(func.count()).select_from(Ausgang)) == 1


async def test_ereignis_wird_zur_periode_vermerkt(
    sitzungen: Sitzungsfabrik, bestand: Bestand
) -> None:
    (faellig,) = await abfragen(sitzungen, berlin(2026, 11, 23, 9))
    await bediene(sitzungen, [faellig])
    async with sitzungen.begin() as s:
        assert await vermerke_event(s, faellig.schluessel, "$abfrage", RAUM)
        assert not await vermerke_event(s, "abfrage:energie:gibt-es-nicht", "$x")
    async with sitzungen() as s:
        versand = (await s.scalars(select(Versand))).one()
        assert (versand.event_id, versand.raum_id) == ("$abfrage", RAUM)


async def test_datenbank_weist_versand_ohne_passenden_bezug_ab(
    sitzungen: Sitzungsfabrik, bestand: Bestand
) -> None:
    termin = berlin(2026, 11, 23, 9)
    with pytest.raises(IntegrityError):
        async with sitzungen.begin() as s:
            s.add(
                Versand(
                    schluessel="abfrage:-:x",
                    art=Versandart.ABFRAGE,
                    termin=termin,
                    faellig_am=termin,
                    status=Versandstatus.GESENDET,
                )
            )


# --- Wochenbericht ------------------------------------------------------------------------


async def test_wochenbericht_kommt_auch_an_feiertagen(sitzungen: Sitzungsfabrik) -> None:
    for freitag in (berlin(2026, 12, 25, 14), berlin(2027, 1, 1, 14)):
        assert await wochenbericht(sitzungen, freitag - dt.timedelta(minutes=1)) == []
        (faellig,) = await wochenbericht(sitzungen, freitag)
        assert (faellig.termin, faellig.faellig_am) == (freitag, freitag)
        assert faellig.schluessel == f"wochenbericht:-:{freitag:%Y-%m-%dT%H:%MZ}"
        assert await bediene(sitzungen, [faellig]) == [True]
        assert await wochenbericht(sitzungen, freitag + dt.timedelta(minutes=1)) == []


async def test_letzter_wochenbericht_ist_das_ende_seines_zeitraums(
    sitzungen: Sitzungsfabrik,
) -> None:
    async with sitzungen() as s:
        assert await letzter_wochenbericht(s) is None
    gesendet_um = berlin(2026, 11, 20, 16, 30)
    (faellig,) = await wochenbericht(sitzungen, gesendet_um)
    assert faellig.verspaetet
    await bediene(sitzungen, [faellig])
    # Die Woche darauf zu spät für die Nachholfrist: übersprungen, zählt nicht als gesendet.
    (uebersprungen,) = await wochenbericht(sitzungen, berlin(2026, 11, 28, 10))
    assert uebersprungen.ueberspringen
    await bediene(sitzungen, [uebersprungen])
    async with sitzungen() as s:
        assert await letzter_wochenbericht(s) == gesendet_um
        (versaeumt,) = await versaeumte_seit(s, gesendet_um)
        assert versaeumt.art is Versandart.WOCHENBERICHT
        assert versaeumt.themenfeld_id is None
        assert versaeumt.termin == berlin(2026, 11, 27, 14)


# --- Erinnerungen -------------------------------------------------------------------------


def stufen(liste: Sequence[Erinnerung]) -> list[tuple[str, int, str]]:
    return [(e.projekt.projekt_slug, e.stufe, e.faelligkeit.art.value) for e in liste]


async def test_erinnerung_eskaliert_vom_raum_zur_direktnachricht(
    sitzungen: Sitzungsfabrik, bestand: Bestand
) -> None:
    projekt_id = await _projekt_id(sitzungen, "waermeplanung")
    await bestand.meldung(projekt_id, berlin(2026, 12, 9, 9), Ampel.GELB)
    # Frist 14 Tage: überfällig ab Mittwoch, 23.12., 09:00. Geprüft wird täglich um 10:00.
    erwartet: dict[dt.date, list[tuple[str, int, str]]] = {
        dt.date(2026, 12, 22): [],
        dt.date(2026, 12, 23): [("waermeplanung", 1, "erinnerung")],
        dt.date(2026, 12, 24): [("waermeplanung", 2, "erinnerung")],
        dt.date(2026, 12, 25): [],  # Erster Weihnachtstag
        dt.date(2026, 12, 26): [],  # Samstag
        dt.date(2026, 12, 27): [],  # Sonntag
        dt.date(2026, 12, 28): [("waermeplanung", 3, "erinnerung_dm")],
        dt.date(2026, 12, 29): [],
        dt.date(2026, 12, 31): [],
        dt.date(2027, 1, 1): [],  # Neujahr
        dt.date(2027, 1, 4): [("waermeplanung", 4, "erinnerung_dm")],  # eine Woche später
        dt.date(2027, 1, 5): [],
    }
    for tag, stufen_heute in erwartet.items():
        jetzt = berlin(tag.year, tag.month, tag.day, 10)
        faellig = await erinnerungen(sitzungen, jetzt)
        assert stufen(faellig) == stufen_heute, tag
        assert all(await bediene(sitzungen, [e.faelligkeit for e in faellig]))
        # Nie zwei an einem Tag, auch nicht, wenn der Bot am Nachmittag wieder nachsieht.
        assert await erinnerungen(sitzungen, jetzt + dt.timedelta(hours=5)) == []

    # Eine neue Meldung beendet die Überfälligkeit; die nächste beginnt wieder im Raum.
    await bestand.meldung(projekt_id, berlin(2027, 1, 5, 11), Ampel.GRUEN)
    assert await erinnerungen(sitzungen, berlin(2027, 1, 6, 10)) == []
    assert stufen(await erinnerungen(sitzungen, berlin(2027, 1, 20, 10))) == [
        ("waermeplanung", 1, "erinnerung")
    ]


async def _projekt_id(sitzungen: Sitzungsfabrik, slug: str) -> int:
    async with sitzungen() as s:
        kennung = await s.scalar(select(Strategieprojekt.id).where(Strategieprojekt.slug == slug))
        assert kennung is not None
        return kennung


async def test_erinnerung_nennt_die_zustaendigen_und_den_schluessel_des_tages(
    sitzungen: Sitzungsfabrik, bestand: Bestand
) -> None:
    projekt_id = await _projekt_id(sitzungen, "waermeplanung")
    await bestand.meldung(projekt_id, berlin(2026, 11, 2, 9), Ampel.ROT)
    (erinnerung,) = await erinnerungen(sitzungen, berlin(2026, 11, 24, 10))
    assert erinnerung.faelligkeit.schluessel == "erinnerung:waermeplanung:2026-11-24"
    assert erinnerung.faelligkeit.projekt_id == projekt_id
    assert erinnerung.patin is not None
    assert erinnerung.patin.matrix_id == "@anna.energie:example.org"
    assert [p.anzeigename for p in erinnerung.koordination] == ["Ben", "Cem"]
    assert [p.anzeigename for p in erinnerung.zustaendige] == ["Anna", "Ben", "Cem"]
    assert erinnerung.projekt.raum_id == RAUM
    assert erinnerung.projekt.letzte_ampel is Ampel.ROT
    assert erinnerung.projekt.letzte_meldung == berlin(2026, 11, 2, 9)
    assert erinnerung.projekt.ueberfaellig_seit == berlin(2026, 11, 16, 9)
    # Raum oder Direktnachricht: derselbe Tagesschlüssel, die Datenbank lässt nur eine zu.
    direkt = replace(erinnerung.faelligkeit, art=Versandart.ERINNERUNG_DM)
    assert await bediene(sitzungen, [erinnerung.faelligkeit, direkt]) == [True, False]


async def test_ohne_patin_wird_danach_woechentlich_im_raum_erinnert(
    sitzungen: Sitzungsfabrik,
) -> None:
    aufbau = Bestand(sitzungen)
    await aufbau.feld(patin=False, frist=7)
    projekt_id = await aufbau.projekt()
    await aufbau.meldung(projekt_id, berlin(2026, 11, 2, 9))
    gesehen: list[tuple[dt.date, int, str]] = []
    for tage in range(0, 21):
        tag = dt.date(2026, 11, 10) + dt.timedelta(days=tage)
        faellig = await erinnerungen(sitzungen, berlin(tag.year, tag.month, tag.day, 10))
        await bediene(sitzungen, [e.faelligkeit for e in faellig])
        gesehen += [(tag, e.stufe, e.faelligkeit.art.value) for e in faellig]
    assert gesehen == [
        (dt.date(2026, 11, 10), 1, "erinnerung"),
        (dt.date(2026, 11, 11), 2, "erinnerung"),
        (dt.date(2026, 11, 18), 3, "erinnerung"),
        (dt.date(2026, 11, 25), 4, "erinnerung"),
    ]


async def test_nie_gemeldetes_projekt_zaehlt_ab_seiner_anlage(sitzungen: Sitzungsfabrik) -> None:
    aufbau = Bestand(sitzungen)
    await aufbau.feld()
    await aufbau.projekt("neu", angelegt=berlin(2026, 11, 2, 12))
    await aufbau.projekt("ohne_protokoll")
    faellig = await erinnerungen(sitzungen, berlin(2026, 11, 10, 10))
    # Ohne Protokoll ist nichts bekannt, wovon man zählen könnte: sofort überfällig.
    assert stufen(faellig) == [("ohne_protokoll", 1, "erinnerung")]
    assert faellig[0].projekt.bezug is None
    faellig = await erinnerungen(sitzungen, berlin(2026, 11, 17, 10))
    assert [e.projekt.projekt_slug for e in faellig] == ["neu", "ohne_protokoll"]


async def test_wieder_aufgenommenes_projekt_bekommt_seine_frist(
    sitzungen: Sitzungsfabrik, bestand: Bestand
) -> None:
    projekt_id = await _projekt_id(sitzungen, "waermeplanung")
    await bestand.meldung(projekt_id, berlin(2026, 1, 12, 9))
    await bestand.protokoll("projekt", "waermeplanung", "archiviert", berlin(2026, 11, 9, 12))
    assert await erinnerungen(sitzungen, berlin(2026, 11, 10, 10)) == []
    assert len(await erinnerungen(sitzungen, berlin(2026, 11, 24, 10))) == 1


async def test_abgeschlossene_und_zurueckgezogene_meldungen(
    sitzungen: Sitzungsfabrik, bestand: Bestand
) -> None:
    projekt_id = await _projekt_id(sitzungen, "waermeplanung")
    fertig = await bestand.projekt("fertig")
    await bestand.meldung(fertig, berlin(2026, 1, 5, 9), Ampel.ABGESCHLOSSEN)
    await bestand.meldung(projekt_id, berlin(2026, 11, 2, 9))
    # Zurückgezogen zählt nicht: die gültige Meldung vom 2.11. ist die neueste.
    await bestand.meldung(projekt_id, berlin(2026, 11, 20, 9), zurueckgezogen=True)
    faellig = await erinnerungen(sitzungen, berlin(2026, 11, 24, 10))
    assert stufen(faellig) == [("waermeplanung", 1, "erinnerung")]


async def test_erinnerung_nach_zeitplan_nur_in_der_nachholfrist(
    sitzungen: Sitzungsfabrik, bestand: Bestand
) -> None:
    projekt_id = await _projekt_id(sitzungen, "waermeplanung")
    await bestand.meldung(projekt_id, berlin(2026, 11, 2, 9))
    taeglich = Zeitplan.aus_text("täglich 10:00")

    async def pruefe(jetzt: dt.datetime) -> list[Erinnerung]:
        async with sitzungen() as s:
            return await faellige_erinnerungen(
                s, jetzt=jetzt, zeitzone=BERLIN, zeitplan=taeglich, nachholfrist=NACHHOLFRIST
            )

    assert await pruefe(berlin(2026, 11, 23, 9)) == []  # Sonntag 10:00 war der letzte Termin
    assert await pruefe(berlin(2026, 11, 24, 9)) == []  # Montag 10:00 ist 23 Stunden her
    (heute,) = await pruefe(berlin(2026, 11, 24, 10, 5))
    assert heute.faelligkeit.termin == berlin(2026, 11, 24, 10)
    assert await pruefe(berlin(2026, 11, 24, 23, 30)) == []


# --- Wenige Anweisungen, gleich wie groß die Struktur ---------------------------------------


async def test_entscheidungen_brauchen_wenige_anweisungen(
    sitzungen: Sitzungsfabrik, anweisungen: Anweisungen
) -> None:
    aufbau = Bestand(sitzungen)
    for feld in ("energie", "mobilitaet", "gebaeude"):
        await aufbau.feld(feld)
        for nr in range(5):
            await aufbau.projekt(f"{feld}{nr}")
    jetzt = berlin(2026, 11, 24, 10)
    async with sitzungen() as s:
        vorher = anweisungen.anzahl
        assert (
            len(
                await faellige_abfragen(
                    s, jetzt=jetzt, zeitzone=BERLIN, standard=MONTAGS, nachholfrist=NACHHOLFRIST * 4
                )
            )
            == 3
        )
        assert anweisungen.anzahl - vorher == 2
        vorher = anweisungen.anzahl
        assert len(await faellige_erinnerungen(s, jetzt=jetzt, zeitzone=BERLIN)) == 15
        assert anweisungen.anzahl - vorher == 3
