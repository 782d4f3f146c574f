"""Missbrauch: Fluten, Absagen am laufenden Band, Zeitstempel aus der Zukunft, Steuerzeichen.

Die Regeln der Drossel mit eingespeister Uhr stehen in `tests/test_drossel.py`; hier, was eine
Person im Chat davon merkt. Der Testbot lebt in seiner eigenen Zeit (`testbot.jetzt`), auch die
Drossel: Ohne dass ein Test die Uhr vorstellt, geschieht alles im selben Augenblick. Wie groß
Benutzertext in Tabellen werden darf, prüft `tests/test_groesse.py`.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.drossel import PAUSE, STOSS
from demo.clientinhalt import textnachricht
from modelle.datenbank import Sitzungsfabrik
from modelle.strukturdatei import StrukturFehler, parse_struktur
from modelle.tabellen import Statusmeldung, Strategieprojekt, VerarbeitetesEreignis
from tests.anweisungen import mitgeschrieben
from tests.testbot import (
    AUSSENSTEHENDE,
    PATIN_ENERGIE,
    PATIN_MOBILITAET,
    RAUM_ENERGIE,
    STABSSTELLE,
    Testbot,
)

# 31.12.2199, 23:59:59 UTC – was ein Server mit falscher Uhr setzen könnte.
JAHR_2199 = 7_258_118_399_999


async def test_zweite_absage_in_derselben_minute_bleibt_unbeantwortet(testbot: Testbot) -> None:
    erste = await testbot.sende("!bericht", als=AUSSENSTEHENDE)
    assert erste.text == "Das darf nur die Stabsstelle Klima. Bitte wenden Sie sich an sie."
    for befehl in ("!bericht", "!meldung waermeplanung gelb", "!zeitplan energie di 09:00"):
        assert (await testbot.sende(befehl, als=AUSSENSTEHENDE)).alle == [], befehl

    # Was keine Absage ist, wird weiter beantwortet; andere Personen bekommen ihre eigene.
    assert "Themenfeld Energie" in (await testbot.sende("!status energie", als=AUSSENSTEHENDE)).text
    fremde = await testbot.sende("!bericht", als=PATIN_ENERGIE)
    assert fremde.text.startswith("Das darf nur die Stabsstelle Klima.")

    testbot.jetzt += dt.timedelta(seconds=PAUSE)
    spaeter = await testbot.sende("!bericht", als=AUSSENSTEHENDE)
    assert spaeter.text.startswith("Das darf nur die Stabsstelle Klima.")


async def test_auch_absagen_auf_reaktionen_kommen_hoechstens_einmal_je_minute(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    status = await testbot.sende("!status waermeplanung", als=PATIN_ENERGIE)
    zeile = status.nachricht.event_id
    erste = await testbot.reagiere(zeile, "🟢", als=PATIN_MOBILITAET)
    assert erste.text.startswith("Entschuldigung, Meldungen für das Themenfeld „Energie“")
    assert (await testbot.reagiere(zeile, "🔴", als=PATIN_MOBILITAET)).alle == []
    async with sitzungen() as sitzung:
        gespeichert = await sitzung.scalars(
            select(Statusmeldung.event_id).where(Statusmeldung.event_id.is_not(None))
        )
        assert list(gespeichert) == []


async def test_wer_flutet_bekommt_einmal_bitte_langsamer_und_wird_ohne_datenbank_uebergangen(
    testbot: Testbot, sitzungen: Sitzungsfabrik, engine: AsyncEngine
) -> None:
    behandelt = [await testbot.sende("!hilfe", als=AUSSENSTEHENDE) for _ in range(STOSS)]
    assert all("!status" in antwort.text for antwort in behandelt)

    bremse = await testbot.sende("!hilfe", als=AUSSENSTEHENDE)
    assert bremse.text.startswith("Bitte etwas langsamer")
    assert "Ich antworte Ihnen in einer Minute wieder" in bremse.text
    assert bremse.nachricht.inhalt["m.relates_to"]["m.in_reply_to"]["event_id"] == bremse.event_id

    with mitgeschrieben(engine) as mitschrift:
        anweisungen = mitschrift.gesendet
        uebergangen = [await testbot.sende("!hilfe", als=AUSSENSTEHENDE) for _ in range(50)]
        await testbot.bearbeite(bremse.event_id, "!status", als=AUSSENSTEHENDE)
        await testbot.reagiere("$irgendwas", "🟢", als=AUSSENSTEHENDE)
    assert all(antwort.alle == [] for antwort in uebergangen)
    # Der Zusteller des Testbots sieht einmal je Ereignis in den Ausgangskorb; die
    # Verarbeitung selbst hat nichts gelesen und nichts geschrieben.
    assert not [a for a in anweisungen if "ausgang" not in a.casefold()], anweisungen
    async with sitzungen() as sitzung:
        vermerkt = await sitzung.scalars(
            select(VerarbeitetesEreignis.event_id).where(
                VerarbeitetesEreignis.event_id.in_([a.event_id for a in uebergangen])
            )
        )
        assert list(vermerkt) == []

    # Andere Personen merken nichts von der Flut.
    assert "!status" in (await testbot.sende("!hilfe", als=PATIN_ENERGIE)).text
    # Nach der Pause ist die Person wieder dran.
    testbot.jetzt += dt.timedelta(seconds=PAUSE)
    assert "!status" in (await testbot.sende("!hilfe", als=AUSSENSTEHENDE)).text


async def test_was_waehrend_eines_ausfalls_kam_ist_keine_flut(testbot: Testbot) -> None:
    """Nach einem Ausfall holt der Bot auf einmal nach, was eine Viertelstunde lang kam: Die
    Drossel zählt jedes Ereignis zu seiner Zeit."""
    antworten = []
    for nummer in range(30):
        gesendet = testbot.jetzt - dt.timedelta(seconds=30 * (30 - nummer))
        roh = {
            "type": "m.room.message",
            "sender": PATIN_ENERGIE,
            "origin_server_ts": int(gesendet.timestamp() * 1000),
            "content": textnachricht("!status waermeplanung"),
        }
        antworten.append(await testbot.ereignis(RAUM_ENERGIE, roh))
    assert all("Kommunale Wärmeplanung" in antwort.text for antwort in antworten)


async def test_ein_server_mit_falscher_uhr_datiert_keine_meldung_in_die_zukunft(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    empfangen = testbot.jetzt
    zukunft = await testbot.ereignis(
        RAUM_ENERGIE,
        {
            "type": "m.room.message",
            "sender": PATIN_ENERGIE,
            "origin_server_ts": JAHR_2199,
            "content": textnachricht("!meldung waermeplanung rot aus der Zukunft"),
        },
    )
    assert zukunft.reaktionen == ["✅"]
    async with sitzungen() as sitzung:
        zeitpunkt = await sitzung.scalar(
            select(Statusmeldung.zeitpunkt).where(Statusmeldung.event_id == zukunft.event_id)
        )
    assert zeitpunkt is not None
    assert zeitpunkt.astimezone(dt.UTC) == empfangen.astimezone(dt.UTC)

    # Eine spätere Meldung ist die neueste – die „aus 2199“ verdrängt sie nicht.
    testbot.jetzt += dt.timedelta(days=1)
    await testbot.sende("!meldung waermeplanung grün wieder im Plan", als=STABSSTELLE)
    status = await testbot.sende("!status waermeplanung", als=AUSSENSTEHENDE)
    assert "🟢 grün" in status.text
    assert "wieder im Plan" in status.text
    assert "Letzte Meldung:* heute" in status.text


async def test_zeitstempel_aus_der_vergangenheit_bleibt_wie_er_ist(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    """Gedeckelt wird nur nach oben: was offline geschrieben und später gesendet wurde, zählt
    zu seiner Zeit."""
    frueher = testbot.jetzt - dt.timedelta(hours=3)
    antwort = await testbot.ereignis(
        RAUM_ENERGIE,
        {
            "type": "m.room.message",
            "sender": PATIN_ENERGIE,
            "origin_server_ts": int(frueher.timestamp() * 1000),
            "content": textnachricht("!meldung waermeplanung gelb"),
        },
    )
    async with sitzungen() as sitzung:
        zeitpunkt = await sitzung.scalar(
            select(Statusmeldung.zeitpunkt)
            .join(Strategieprojekt)
            .where(Statusmeldung.event_id == antwort.event_id)
        )
    assert zeitpunkt is not None
    assert abs(zeitpunkt.astimezone(dt.UTC) - frueher.astimezone(dt.UTC)) < dt.timedelta(
        milliseconds=1
    )


# --- Steuerzeichen ----------------------------------------------------------------------------


async def _gespeichert(sitzungen: Sitzungsfabrik, event_id: str) -> tuple[str, str | None]:
    async with sitzungen() as sitzung:
        zeile = (
            await sitzung.execute(
                select(Statusmeldung.text, Statusmeldung.herausforderungen).where(
                    Statusmeldung.event_id == event_id
                )
            )
        ).one()
    return zeile.text, zeile.herausforderungen


async def test_steuerzeichen_werden_nicht_gespeichert_zeilenumbruch_und_tab_schon(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    antwort = await testbot.sende(
        "!meldung waermeplanung gelb Vergabe\x1b[31m läuft\x07\r\nzweite\u200bZeile\tmit Tab"
        " Herausforderung: Lieferung\x00\x85 fehlt\rnoch",
        als=PATIN_ENERGIE,
    )
    assert antwort.reaktionen == ["✅"]
    assert await _gespeichert(sitzungen, antwort.event_id) == (
        # Unsichtbare Formatzeichen (hier Nullbreite) sind keine Steuerzeichen: sie bleiben.
        "Vergabe[31m läuft\nzweite\u200bZeile\tmit Tab",
        "Lieferung fehlt\nnoch",
    )

    testbot.jetzt += dt.timedelta(minutes=1)
    await testbot.bearbeite(
        antwort.event_id, "!meldung waermeplanung rot \x1b]0;Titel\x07neu", als=PATIN_ENERGIE
    )
    assert await _gespeichert(sitzungen, antwort.event_id) == ("]0;Titelneu", None)


def _struktur(*, feldname: str = "Feld", titel: str = "Projekt", beschreibung: str = "") -> str:
    return f"""
[[themenfeld]]
slug = "f"
name = {json.dumps(feldname)}

[[person]]
matrix_id = "@anna:muenster.de"
name = "Anna"
patin = ["f"]

[[projekt]]
slug = "p"
themenfeld = "f"
titel = {json.dumps(titel)}
beschreibung = {json.dumps(beschreibung)}
"""


@pytest.mark.parametrize(
    ("struktur", "problem"),
    [
        (_struktur(titel="Wärme\x1b[2Jplanung"), "„titel“ enthält ein Steuerzeichen (U+001B)"),
        (_struktur(titel="zwei\nZeilen"), "„titel“ enthält ein Steuerzeichen (U+000A)"),
        (_struktur(feldname="Tab\tName"), "„name“ enthält ein Steuerzeichen (U+0009)"),
    ],
    ids=["escape", "zeilenumbruch", "tab"],
)
def test_steuerzeichen_in_namen_und_titeln_der_strukturdatei_werden_genannt(
    struktur: str, problem: str
) -> None:
    """Namen und Titel landen in Tabellen, im Terminal und in der CSV-Datei."""
    with pytest.raises(StrukturFehler) as fehler:
        parse_struktur(struktur, "struktur.toml")
    assert problem in str(fehler.value)
    # Ins Terminal kommt das Zeichen auch mit der Fehlermeldung nicht.
    assert not any(z in str(fehler.value) for z in "\x1b\t\n")


def test_beschreibung_darf_mehrere_zeilen_haben() -> None:
    struktur = parse_struktur(_struktur(beschreibung="Erste Zeile\nzweite\tZeile"), "s.toml")
    assert struktur.projekte[0].beschreibung == "Erste Zeile\nzweite\tZeile"
