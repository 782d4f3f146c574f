"""Termine in Ortszeit: Sommerzeit, Feiertage in NRW, Wochenenden – mit eingespeister Uhr."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import holidays  # nur zum Vergleich: Testabhängigkeit (pyproject, Extra „test“)
import pytest
from apscheduler.triggers.cron import CronTrigger

from modelle.termine import (
    Periode,
    feiertag,
    ist_arbeitstag,
    letzter_termin,
    naechste_periode,
    naechster_termin,
    perioden_rueckwaerts,
    verschiebe_auf_arbeitstag,
)
from modelle.zeitplan import Zeitplan

BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.UTC
MONTAGS = Zeitplan.aus_text("mo 09:00")


def berlin(jahr: int, monat: int, tag: int, stunde: int = 0, minute: int = 0) -> dt.datetime:
    """Eine Ortszeit in Berlin als UTC."""
    return dt.datetime(jahr, monat, tag, stunde, minute, tzinfo=BERLIN).astimezone(UTC)


def utc(jahr: int, monat: int, tag: int, stunde: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(jahr, monat, tag, stunde, minute, tzinfo=UTC)


def ortszeit(zeitpunkt: dt.datetime) -> str:
    return zeitpunkt.astimezone(BERLIN).strftime("%a %d.%m.%Y %H:%M %Z")


# --- Sommerzeit ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("montag_davor", "montag_danach"),
    [
        # Letzter Sonntag im März 2026 ist der 29.: vorher MEZ (UTC+1), danach MESZ (UTC+2).
        (utc(2026, 3, 23, 8), utc(2026, 3, 30, 7)),
        # Letzter Sonntag im Oktober 2026 ist der 25.: vorher MESZ, danach MEZ.
        (utc(2026, 10, 19, 7), utc(2026, 10, 26, 8)),
    ],
    ids=["maerz", "oktober"],
)
def test_montags_neun_uhr_bleibt_neun_uhr_ueber_die_zeitumstellung(
    montag_davor: dt.datetime, montag_danach: dt.datetime
) -> None:
    sonntag = montag_danach - dt.timedelta(days=1)
    assert naechster_termin(MONTAGS, sonntag, BERLIN) == montag_danach
    assert letzter_termin(MONTAGS, sonntag, BERLIN) == montag_davor
    assert letzter_termin(MONTAGS, montag_danach, BERLIN) == montag_danach
    assert letzter_termin(MONTAGS, montag_danach - dt.timedelta(seconds=1), BERLIN) == montag_davor
    for termin in (montag_davor, montag_danach):
        assert termin.astimezone(BERLIN).time() == dt.time(9, 0)
    # Wer stur in UTC weiterzählte, läge eine Stunde daneben.
    assert montag_danach - montag_davor != dt.timedelta(weeks=1)


def test_termin_in_der_fehlenden_stunde_kommt_um_die_luecke_spaeter() -> None:
    zeitplan = Zeitplan.aus_text("so 02:30")
    termin = naechster_termin(zeitplan, utc(2026, 3, 28), BERLIN)
    assert termin == utc(2026, 3, 29, 1, 30)
    assert ortszeit(termin) == "Sun 29.03.2026 03:30 CEST"
    # Die Woche davor und danach: 02:30 wie geplant.
    assert naechster_termin(zeitplan, termin, BERLIN) == berlin(2026, 4, 5, 2, 30)
    assert letzter_termin(zeitplan, termin - dt.timedelta(seconds=1), BERLIN) == berlin(
        2026, 3, 22, 2, 30
    )


def test_termin_in_der_fehlenden_stunde_rueckt_mit_seiner_uhrzeit_auf_montag() -> None:
    periode = naechste_periode(Zeitplan.aus_text("so 02:30"), utc(2026, 3, 28), BERLIN)
    assert periode == Periode(termin=utc(2026, 3, 29, 1, 30), faellig_am=berlin(2026, 3, 30, 2, 30))


def test_termin_in_der_doppelten_stunde_kommt_nur_einmal() -> None:
    zeitplan = Zeitplan.aus_text("so 02:30")
    # 02:30 gibt es am 25.10.2026 zweimal (00:30 und 01:30 UTC): es gilt der erste Durchlauf.
    assert naechster_termin(zeitplan, utc(2026, 10, 24), BERLIN) == utc(2026, 10, 25, 0, 30)
    assert naechster_termin(zeitplan, utc(2026, 10, 25, 0, 30), BERLIN) == berlin(
        2026, 11, 1, 2, 30
    )
    assert letzter_termin(zeitplan, utc(2026, 10, 25, 1, 45), BERLIN) == utc(2026, 10, 25, 0, 30)


def test_cron_termine_in_der_luecke_fallen_zusammen_statt_doppelt() -> None:
    zeitplan = Zeitplan.aus_text("0 2,3 * * *")
    termine = [
        p.termin
        for p in perioden_rueckwaerts(zeitplan, berlin(2026, 3, 29, 12), BERLIN, verschieben=False)
    ]
    # 02:00 gibt es nicht und wird zu 03:00 – das es ohnehin gibt.
    assert termine[:3] == [berlin(2026, 3, 29, 3), berlin(2026, 3, 28, 3), berlin(2026, 3, 28, 2)]


@pytest.mark.parametrize(
    "text",
    ["mo 09:00", "mo,do 09:00", "mo-fr 07:45", "0 9 * * 1", "*/30 8-17 * * 1-5", "0 9 1 * *"],
)
def test_termine_stimmen_mit_apscheduler_ueberein(text: str) -> None:
    """Dieselben Termine wie der Scheduler der Bot-Schicht, über die Umstellungen hinweg."""
    zeitplan = Zeitplan.aus_text(text)
    ausloeser = CronTrigger(**zeitplan.trigger_felder(), timezone=BERLIN)
    erwartet: list[dt.datetime] = []
    zeitpunkt: dt.datetime | None = dt.datetime(2026, 3, 20, tzinfo=BERLIN)
    while len(erwartet) < 600:
        zeitpunkt = ausloeser.get_next_fire_time(None, zeitpunkt)
        if zeitpunkt is None or zeitpunkt >= dt.datetime(2027, 3, 20, tzinfo=BERLIN):
            break
        erwartet.append(zeitpunkt)
        zeitpunkt += dt.timedelta(seconds=1)
    eigene: list[dt.datetime] = []
    von = berlin(2026, 3, 20) - dt.timedelta(seconds=1)
    for _ in erwartet:
        naechster = naechster_termin(zeitplan, von, BERLIN)
        assert naechster is not None
        eigene.append(naechster)
        von = naechster
    assert eigene == [t.astimezone(UTC) for t in erwartet]


def test_seltener_cron_termin_wird_gefunden() -> None:
    schalttag = Zeitplan.aus_text("0 9 29 2 *")
    assert naechster_termin(schalttag, utc(2026, 3, 1), BERLIN) == berlin(2028, 2, 29, 9)
    # Rückwärts reicht der Blick gut ein Jahr.
    assert letzter_termin(schalttag, utc(2026, 3, 1), BERLIN) is None


def test_zeitpunkt_ohne_zeitzone_wird_abgewiesen() -> None:
    with pytest.raises(ValueError, match="ohne Zeitzone"):
        letzter_termin(MONTAGS, dt.datetime(2026, 3, 30, 9), BERLIN)
    with pytest.raises(ValueError, match="ohne Zeitzone"):
        verschiebe_auf_arbeitstag(dt.datetime(2026, 4, 6, 9), BERLIN)


# --- Feiertage und Arbeitstage ------------------------------------------------------------


@pytest.mark.parametrize(
    ("datum", "name"),
    [
        (dt.date(2026, 1, 1), "Neujahr"),
        (dt.date(2026, 4, 3), "Karfreitag"),
        (dt.date(2026, 4, 6), "Ostermontag"),
        (dt.date(2026, 6, 4), "Fronleichnam"),
        (dt.date(2026, 11, 1), "Allerheiligen"),
        (dt.date(2026, 12, 25), "Erster Weihnachtstag"),
        (dt.date(2026, 12, 26), "Zweiter Weihnachtstag"),
        # Nicht in NRW: Reformationstag, Buß- und Bettag; Heiligabend ist kein Feiertag.
        (dt.date(2026, 10, 31), None),
        (dt.date(2026, 11, 18), None),
        (dt.date(2026, 12, 24), None),
    ],
)
def test_feiertage_in_nrw(datum: dt.date, name: str | None) -> None:
    assert feiertag(datum) == name


def test_feiertage_wie_im_paket_holidays() -> None:
    """Der Bot rechnet die NRW-Feiertage selbst; sie sind jedes Jahr dieselben wie im Paket."""
    for jahr in range(1985, 2101):  # bis 2100 reicht das Paket, ab 1991 kennt es Feiertage
        erwartet = holidays.country_holidays("DE", subdiv="NW", language="de", years=jahr)
        feiertage = {tag: feiertag(tag) for tag in _tage(jahr) if feiertag(tag) is not None}
        assert feiertage == {tag: str(name) for tag, name in erwartet.items()}, jahr


def _tage(jahr: int) -> Iterator[dt.date]:
    tag = dt.date(jahr, 1, 1)
    while tag.year == jahr:
        yield tag
        tag += dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("datum", "name"),
    [
        (dt.date(2008, 5, 1), "Christi Himmelfahrt; Erster Mai"),
        (dt.date(2017, 10, 31), "Reformationstag"),  # einmalig, 500 Jahre Reformation
        (dt.date(1994, 11, 16), "Buß- und Bettag"),  # bis 1994 bundesweit
        (dt.date(1995, 11, 22), None),
        (dt.date(2027, 3, 26), "Karfreitag"),
        (dt.date(2027, 5, 27), "Fronleichnam"),
    ],
)
def test_besondere_feiertage_in_nrw(datum: dt.date, name: str | None) -> None:
    assert feiertag(datum) == name


@pytest.mark.parametrize(
    ("datum", "arbeitstag"),
    [
        (dt.date(2026, 4, 2), True),  # Gründonnerstag
        (dt.date(2026, 4, 6), False),  # Ostermontag
        (dt.date(2026, 4, 7), True),
        (dt.date(2026, 11, 21), False),  # Samstag
        (dt.date(2026, 11, 22), False),  # Sonntag
        (dt.date(2026, 11, 18), True),  # Buß- und Bettag: nur in Sachsen frei
        (dt.date(2026, 12, 24), True),
    ],
)
def test_arbeitstage(datum: dt.date, arbeitstag: bool) -> None:
    assert ist_arbeitstag(datum) is arbeitstag


@pytest.mark.parametrize(
    ("termin", "erwartet"),
    [
        (berlin(2026, 4, 6, 9), berlin(2026, 4, 7, 9)),  # Ostermontag → Dienstag
        (berlin(2026, 4, 3, 9), berlin(2026, 4, 7, 9)),  # Karfreitag → über Ostern
        (berlin(2026, 11, 21, 9), berlin(2026, 11, 23, 9)),  # Samstag → Montag
        (berlin(2026, 3, 28, 9), berlin(2026, 3, 30, 9)),  # über die Umstellung: 09:00 bleibt
        (berlin(2028, 12, 25, 9), berlin(2028, 12, 27, 9)),  # Weihnachten an Mo und Di
        (berlin(2029, 1, 1, 9), berlin(2029, 1, 2, 9)),  # Neujahr am Montag
        (berlin(2026, 11, 23, 9), berlin(2026, 11, 23, 9)),  # Arbeitstag: bleibt
    ],
)
def test_verschiebe_auf_arbeitstag_behaelt_die_ortszeit(
    termin: dt.datetime, erwartet: dt.datetime
) -> None:
    assert verschiebe_auf_arbeitstag(termin, BERLIN) == erwartet


# --- Perioden -----------------------------------------------------------------------------


def test_abfrage_am_ostermontag_ist_dienstag_faellig() -> None:
    assert naechste_periode(MONTAGS, berlin(2026, 4, 5), BERLIN) == Periode(
        berlin(2026, 4, 6, 9), berlin(2026, 4, 7, 9)
    )
    # Am Ostermontag selbst steht sie noch aus; danach kommt der reguläre Montag.
    assert naechste_periode(MONTAGS, berlin(2026, 4, 6, 12), BERLIN) == Periode(
        berlin(2026, 4, 6, 9), berlin(2026, 4, 7, 9)
    )
    assert naechste_periode(MONTAGS, berlin(2026, 4, 7, 9), BERLIN) == Periode(
        berlin(2026, 4, 13, 9), berlin(2026, 4, 13, 9)
    )


@pytest.mark.parametrize("text", ["sa 09:00", "0 9 * * 6"])
def test_abfrage_am_samstag_ist_montag_faellig(text: str) -> None:
    periode = naechste_periode(Zeitplan.aus_text(text), berlin(2026, 11, 20), BERLIN)
    assert periode == Periode(berlin(2026, 11, 21, 9), berlin(2026, 11, 23, 9))
    assert periode.verschoben


def test_weihnachten_und_neujahr_verschieben_die_montagsabfrage() -> None:
    perioden = list(itertools.islice(perioden_rueckwaerts(MONTAGS, berlin(2029, 1, 3), BERLIN), 3))
    assert perioden == [
        Periode(berlin(2029, 1, 1, 9), berlin(2029, 1, 2, 9)),
        Periode(berlin(2028, 12, 25, 9), berlin(2028, 12, 27, 9)),
        Periode(berlin(2028, 12, 18, 9), berlin(2028, 12, 18, 9)),
    ]


def test_verschobener_termin_geht_im_naechsten_auf() -> None:
    # Karfreitag rückt auf Dienstag, hinter den Ostermontag, der selbst auf Dienstag rückt:
    # eine Abfrage am Dienstag, nicht zwei.
    zeitplan = Zeitplan.aus_text("fr,mo 09:00")
    perioden = list(itertools.islice(perioden_rueckwaerts(zeitplan, berlin(2026, 4, 8), BERLIN), 3))
    assert perioden == [
        Periode(berlin(2026, 4, 6, 9), berlin(2026, 4, 7, 9)),
        Periode(berlin(2026, 3, 30, 9), berlin(2026, 3, 30, 9)),
        Periode(berlin(2026, 3, 27, 9), berlin(2026, 3, 27, 9)),
    ]
    # Täglich: Samstag und Sonntag gehen im Montag auf.
    taeglich = Zeitplan.aus_text("täglich 09:00")
    perioden = list(
        itertools.islice(perioden_rueckwaerts(taeglich, berlin(2026, 11, 23, 10), BERLIN), 2)
    )
    assert [p.termin for p in perioden] == [berlin(2026, 11, 23, 9), berlin(2026, 11, 20, 9)]
    assert naechste_periode(taeglich, berlin(2026, 11, 20, 10), BERLIN) == Periode(
        berlin(2026, 11, 23, 9), berlin(2026, 11, 23, 9)
    )


def test_wochenbericht_wird_nicht_verschoben() -> None:
    freitags = Zeitplan.aus_text("fr 14:00")
    for feiertag_freitag in (berlin(2026, 12, 25, 14), berlin(2027, 1, 1, 14)):
        periode = next(perioden_rueckwaerts(freitags, feiertag_freitag, BERLIN, verschieben=False))
        assert periode == Periode(feiertag_freitag, feiertag_freitag)
        assert not periode.verschoben
