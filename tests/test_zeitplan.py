"""Zeitpläne der Abfragen: was Menschen schreiben, wird verstanden oder klar abgelehnt."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from modelle.zeitplan import Zeitplan

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("eingabe", "kanonisch", "wochentage", "uhrzeit"),
    [
        ("mo 09:00", "mo 09:00", (0,), dt.time(9, 0)),
        ("Mo 9:00", "mo 09:00", (0,), dt.time(9, 0)),
        ("mo,do 09:00", "mo,do 09:00", (0, 3), dt.time(9, 0)),
        ("DO, mo 09:00", "mo,do 09:00", (0, 3), dt.time(9, 0)),
        ("mo-fr 10:00", "mo-fr 10:00", (0, 1, 2, 3, 4), dt.time(10, 0)),
        ("täglich 10:00", "täglich 10:00", tuple(range(7)), dt.time(10, 0)),
        ("TAEGLICH 10:00", "täglich 10:00", tuple(range(7)), dt.time(10, 0)),
        ("mo-so 07:15", "täglich 07:15", tuple(range(7)), dt.time(7, 15)),
        ("Montag 8:30 Uhr", "mo 08:30", (0,), dt.time(8, 30)),
        ("mo,di,mi,fr 07:00", "mo-mi,fr 07:00", (0, 1, 2, 4), dt.time(7, 0)),
        ("sa,so 12:00", "sa,so 12:00", (5, 6), dt.time(12, 0)),
    ],
)
def test_einfache_form_wird_verstanden_und_einheitlich_geschrieben(
    eingabe: str, kanonisch: str, wochentage: tuple[int, ...], uhrzeit: dt.time
) -> None:
    zeitplan = Zeitplan.aus_text(eingabe)
    assert not zeitplan.ist_cron
    assert zeitplan.wochentage == wochentage
    assert zeitplan.uhrzeit == uhrzeit
    assert str(zeitplan) == kanonisch
    assert Zeitplan.aus_text(str(zeitplan)) == zeitplan


@pytest.mark.parametrize(
    "eingabe",
    ["0 9 * * 1", "*/15 8-17 * * 1-5", "0 9 1 * *", "30 8 * 1,7 0", "0 0-23/2 * * *", "0 9 * * 7"],
)
def test_cron_ausdruck_wird_angenommen(eingabe: str) -> None:
    zeitplan = Zeitplan.aus_text(f"  {eingabe.replace(' ', '   ')} ")
    assert zeitplan.ist_cron
    assert zeitplan.cron == tuple(eingabe.split())
    assert zeitplan.uhrzeit is None
    assert str(zeitplan) == eingabe


@pytest.mark.parametrize(
    ("eingabe", "erklaerung"),
    [
        ("", "Zeitplan ist leer"),
        ("mo", "„mo“: kein gültiger Zeitplan"),
        ("9:00", "„9:00“: kein gültiger Zeitplan"),
        ("xx 09:00", "„xx 09:00“: „xx“ ist kein Wochentag"),
        ("mo 25:00", "„mo 25:00“: die Uhrzeit „25:00“ gibt es nicht"),
        ("mo 9.00", "„9.00“ ist keine Uhrzeit"),
        ("fr-mo 09:00", "der Bereich „fr-mo“ läuft rückwärts"),
        ("0 9 * *", "genau fünf Felder"),
        ("0 9 * * * *", "genau fünf Felder"),
        ("60 9 * * 1", "„60 9 * * 1“: Feld Minute: 60 liegt nicht zwischen 0 und 59"),
        ("0 24 * * 1", "Feld Stunde: 24 liegt nicht zwischen 0 und 23"),
        ("0 9 0 * *", "Feld Tag: 0 liegt nicht zwischen 1 und 31"),
        ("0 9 * 13 *", "Feld Monat: 13 liegt nicht zwischen 1 und 12"),
        ("0 9 * * 8", "Feld Wochentag: 8 liegt nicht zwischen 0 und 7"),
        ("0 9 * * 5-1", "Feld Wochentag: der Bereich „5-1“ läuft rückwärts"),
        ("*/0 9 * * *", "Schrittweite muss mindestens 1 sein"),
        ("5/2 9 * * *", "ein Schritt braucht * oder einen Bereich davor"),
        ("0 9 * * mon", "Feld Wochentag: „mon“ ist ungültig"),
        ("0 9 1 * 1", "Tag und Wochentag zugleich"),
    ],
)
def test_ungueltiger_zeitplan_wird_auf_deutsch_erklaert(eingabe: str, erklaerung: str) -> None:
    with pytest.raises(ValueError, match=re.escape(erklaerung)):
        Zeitplan.aus_text(eingabe)


def _naechster_termin(zeitplan: Zeitplan, nach: dt.datetime) -> dt.datetime:
    trigger = CronTrigger(**zeitplan.trigger_felder(), timezone=BERLIN)
    termin: dt.datetime | None = trigger.get_next_fire_time(None, nach)
    assert termin is not None
    return termin


def test_cron_montag_laeuft_in_apscheduler_montags() -> None:
    # APScheduler zählt ab Montag = 0, Cron ab Sonntag = 0: ohne Umrechnung wäre es Dienstag.
    sonntag = dt.datetime(2025, 3, 30, 12, 0, tzinfo=BERLIN)
    for text in ("0 9 * * 1", "mo 09:00"):
        termin = _naechster_termin(Zeitplan.aus_text(text), sonntag)
        assert termin == dt.datetime(2025, 3, 31, 9, 0, tzinfo=BERLIN)
        assert termin.weekday() == 0


def test_cron_sonntag_als_null_und_sieben() -> None:
    samstag = dt.datetime(2025, 10, 25, 12, 0, tzinfo=BERLIN)
    for text in ("0 9 * * 0", "0 9 * * 7", "so 09:00"):
        assert _naechster_termin(Zeitplan.aus_text(text), samstag).weekday() == 6


def test_cron_schritt_bei_wochentagen_zaehlt_ab_sonntag() -> None:
    assert Zeitplan.aus_text("0 9 * * */2").trigger_felder()["day_of_week"] == "tue,thu,sat,sun"
    assert Zeitplan.aus_text("0 9 * * *").trigger_felder()["day_of_week"] == "*"


def test_werktags_zeitplan_ueberspringt_das_wochenende() -> None:
    freitag_abend = dt.datetime(2025, 3, 28, 18, 0, tzinfo=BERLIN)
    termin = _naechster_termin(Zeitplan.aus_text("mo-fr 10:00"), freitag_abend)
    assert termin == dt.datetime(2025, 3, 31, 10, 0, tzinfo=BERLIN)


def test_zeitplan_ohne_form_gibt_es_nicht() -> None:
    with pytest.raises(ValueError, match="entweder Wochentage und Uhrzeit oder Cron"):
        Zeitplan()
    with pytest.raises(ValueError, match="entweder Wochentage und Uhrzeit oder Cron"):
        Zeitplan(wochentage=(0,), uhrzeit=dt.time(9), cron=("0", "9", "*", "*", "1"))
