"""`!zeitplan`: wann was kommt – und wie die Stabsstelle einen Zeitplan im Chat ändert."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from modelle.datenbank import Sitzungsfabrik
from modelle.tabellen import Aenderung, Themenfeld
from modelle.termine import ist_arbeitstag
from modelle.versand import faellige_abfragen
from modelle.zeitplan import Zeitplan
from tests.testbot import (
    AUSSENSTEHENDE,
    BERLIN,
    KOORDINATION_ENERGIE,
    PATIN_ENERGIE,
    RAUM_ENERGIE,
    STABSSTELLE,
    Testbot,
)

# Gründonnerstag 2026: Karfreitag (03.04.) und Ostermontag (06.04.) liegen vor der nächsten Abfrage.
VOR_OSTERN = dt.datetime(2026, 4, 2, 12, 0, tzinfo=BERLIN)


async def _abfrage(sitzungen: Sitzungsfabrik, slug: str) -> str | None:
    async with sitzungen() as sitzung:
        return await sitzung.scalar(select(Themenfeld.abfrage).where(Themenfeld.slug == slug))


# (wer, Objektart, Objekt, alt, neu)
Protokollzeile = tuple[str, str, str, str | None, str | None]


async def _protokoll(sitzungen: Sitzungsfabrik) -> list[Protokollzeile]:
    """Die Zeilen des Änderungsprotokolls zu Abfrage-Zeitplänen, älteste zuerst."""
    async with sitzungen() as sitzung:
        zeilen = await sitzung.execute(
            select(
                Aenderung.wer, Aenderung.objekt_art, Aenderung.objekt, Aenderung.alt, Aenderung.neu
            )
            .where(Aenderung.feld == "abfrage")
            .order_by(Aenderung.id)
        )
        return [(wer, art, objekt, alt, neu) for wer, art, objekt, alt, neu in zeilen]


# --- Ansehen ------------------------------------------------------------------------------


async def test_vor_ostern_rücken_abfragen_auf_dienstag_und_der_bericht_kommt_karfreitag(
    testbot: Testbot,
) -> None:
    testbot.jetzt = VOR_OSTERN
    antwort = await testbot.sende("!zeitplan", als=AUSSENSTEHENDE)
    assert antwort.text.splitlines()[2:9] == [
        "*Energie* (energie): mo 09:00 → "
        "Di 07.04.2026, 09:00 Uhr (verschoben von Mo 06.04., Ostermontag)",
        "*Mobilität* (mobilitaet): di 09:00 → Di 07.04.2026, 09:00 Uhr",
        "*Gebäude* (gebaeude): mi 09:00 → Mi 08.04.2026, 09:00 Uhr",
        "*Wirtschaft & Wissenschaft* (wirtschaft-wissenschaft): do 10:00 → "
        "Do 09.04.2026, 10:00 Uhr",
        "*Bildung & Ernährung* (bildung-ernaehrung): mo,do 09:30 → "
        "Di 07.04.2026, 09:30 Uhr (verschoben von Mo 06.04., Ostermontag)",
        "*Private Haushalte & Konsum* (haushalte-konsum): fr 09:00 → "
        "Di 07.04.2026, 09:00 Uhr (verschoben von Fr 03.04., Karfreitag)",
        "*Klimaanpassung* (klimaanpassung): 30 8 * * 1 → "
        "Di 07.04.2026, 08:30 Uhr (verschoben von Mo 06.04., Ostermontag)",
    ]
    assert (
        "*Wochenbericht:* fr 14:00 → Fr 03.04.2026, 14:00 Uhr (Karfreitag – er kommt trotzdem)"
        in antwort.text
    )
    assert (
        "*Erinnerungen:* Prüfung täglich 10:00, nur an Arbeitstagen → Di 07.04.2026, 10:00 Uhr"
        in antwort.text
    )
    assert "*Nachholfrist:* 12 Stunden" in antwort.text
    assert "<th>Nächste Abfrage</th>" in antwort.html
    # Wie man ändert, erfährt nur, wer es darf.
    assert "Ändern:" not in antwort.text
    stabsstelle = await testbot.sende("!zeitplan", als=STABSSTELLE)
    assert "Ändern: `!zeitplan <themenfeld> <zeitplan>`" in stabsstelle.text


async def test_ueber_beide_zeitumstellungen_bleibt_es_bei_der_ortszeit(testbot: Testbot) -> None:
    for jetzt, montag in (
        # Samstag vor und Sonntag kurz nach der Umstellung auf Sommerzeit (29.03.2026).
        (dt.datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN), "Mo 30.03.2026"),
        (dt.datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN), "Mo 30.03.2026"),
        # In der doppelten Stunde der Rückstellung (25.10.2026, erster Durchlauf).
        (dt.datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN), "Mo 26.10.2026"),
    ):
        testbot.jetzt = jetzt
        text = (await testbot.sende("!zeitplan", als=AUSSENSTEHENDE)).text
        assert f"*Energie* (energie): mo 09:00 → {montag}, 09:00 Uhr" in text, jetzt
        assert f"(klimaanpassung): 30 8 * * 1 → {montag}, 08:30 Uhr" in text, jetzt
        assert f"nur an Arbeitstagen → {montag}, 10:00 Uhr" in text, jetzt


async def test_mit_themenfeld_nur_dessen_abfrage_im_feldraum_ohne_angabe_alle(
    testbot: Testbot,
) -> None:
    testbot.jetzt = VOR_OSTERN
    antwort = await testbot.sende("!zeitplan klimaanp", als=AUSSENSTEHENDE)
    assert antwort.text.splitlines()[:3] == [
        "*Themenfeld Klimaanpassung* (klimaanpassung)",
        "*Abfrage:* 30 8 * * 1",
        "*Nächste Abfrage:* Di 07.04.2026, 08:30 Uhr (verschoben von Mo 06.04., Ostermontag)",
    ]
    assert "(„klimaanp“ als Themenfeld „Klimaanpassung“ verstanden)" in antwort.text
    assert "Energie" not in antwort.text
    im_feldraum = await testbot.sende("!zeitplan", als=PATIN_ENERGIE, raum=RAUM_ENERGIE)
    assert "*Klimaanpassung* (klimaanpassung)" in im_feldraum.text
    assert "*Wochenbericht:*" in im_feldraum.text


async def test_unbekanntes_themenfeld_bekommt_vorschlag(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    antwort = await testbot.sende("!zeitplan enrgie", als=AUSSENSTEHENDE)
    assert "Das Themenfeld „enrgie“ kenne ich nicht. Meinten Sie *energie*?" in antwort.text
    aendern = await testbot.sende("!zeitplan enrgie di 09:00", als=STABSSTELLE)
    assert "Meinten Sie *energie*?" in aendern.text
    assert await _protokoll(sitzungen) == []


# --- Ändern -------------------------------------------------------------------------------


async def test_stabsstelle_aendert_zeitplan_mit_protokoll_und_hinweis_auf_die_datei(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    testbot.jetzt = VOR_OSTERN
    antwort = await testbot.sende("!zeitplan energie Mo, Do 9:00", als=STABSSTELLE)
    assert antwort.text.splitlines()[:3] == [
        "*Zeitplan der Abfrage für Energie geändert:* mo 09:00 → mo,do 09:00",
        "*Nächste Abfrage:* Di 07.04.2026, 09:00 Uhr (verschoben von Mo 06.04., Ostermontag)",
        "Im Änderungsprotokoll vermerkt.",
    ]
    assert (
        'Bitte auch in der Strukturdatei beim Themenfeld „energie“ `abfrage = "mo,do 09:00"` '
        "eintragen, sonst gilt nach dem nächsten Import wieder, was dort steht "
        "(bisher „mo 09:00“)." in antwort.text
    )
    assert await _abfrage(sitzungen, "energie") == "mo,do 09:00"
    assert await _protokoll(sitzungen) == [
        (STABSSTELLE, "themenfeld", "energie", "mo 09:00", "mo,do 09:00")
    ]

    # Nach Ostern: Donnerstag ist wieder ein gewöhnlicher Abfragetag.
    testbot.jetzt = dt.datetime(2026, 4, 8, 12, 0, tzinfo=BERLIN)
    danach = await testbot.sende("!zeitplan", als=AUSSENSTEHENDE)
    assert "*Energie* (energie): mo,do 09:00 → Do 09.04.2026, 09:00 Uhr" in danach.text

    gleich = await testbot.sende("!zeitplan energie mo,do 09:00", als=STABSSTELLE)
    assert gleich.text.startswith(
        "Nichts geändert: der Zeitplan von Energie ist schon „mo,do 09:00“."
    )
    assert len(await _protokoll(sitzungen)) == 1


async def test_vorgabe_setzt_auf_die_konfiguration_zurueck(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    testbot.jetzt = VOR_OSTERN
    antwort = await testbot.sende("!zeitplan mobilitaet Vorgabe", als=STABSSTELLE)
    assert antwort.text.startswith(
        "*Zeitplan der Abfrage für Mobilität geändert:* di 09:00 → Vorgabe: mo 09:00"
    )
    assert "beim Themenfeld „mobilitaet“ die Zeile „abfrage“ streichen" in antwort.text
    assert await _abfrage(sitzungen, "mobilitaet") is None
    assert await _protokoll(sitzungen) == [
        (STABSSTELLE, "themenfeld", "mobilitaet", "di 09:00", None)
    ]
    tabelle = await testbot.sende("!zeitplan", als=AUSSENSTEHENDE)
    assert (
        "*Mobilität* (mobilitaet): Vorgabe: mo 09:00 → "
        "Di 07.04.2026, 09:00 Uhr (verschoben von Mo 06.04., Ostermontag)" in tabelle.text
    )
    nochmal = await testbot.sende("!zeitplan mobilitaet vorgabe", als=STABSSTELLE)
    assert nochmal.text.startswith("Nichts geändert: Mobilität folgt schon der Vorgabe (mo 09:00).")
    assert len(await _protokoll(sitzungen)) == 1


async def test_nur_die_stabsstelle_darf_aendern_alle_duerfen_ansehen(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    for person in (PATIN_ENERGIE, KOORDINATION_ENERGIE, AUSSENSTEHENDE):
        for zeitplan in ("di 09:00", "mo 25:00", "vorgabe"):
            antwort = await testbot.sende(f"!zeitplan energie {zeitplan}", als=person)
            assert antwort.text == (
                "Das darf nur die Stabsstelle Klima. Bitte wenden Sie sich an sie."
            ), (person, zeitplan)
            testbot.jetzt += dt.timedelta(minutes=1)  # eine Absage je Person und Minute
    assert await _abfrage(sitzungen, "energie") == "mo 09:00"
    assert await _protokoll(sitzungen) == []
    hilfe = await testbot.sende("!hilfe", als=AUSSENSTEHENDE)
    assert "`!zeitplan [themenfeld [zeitplan|vorgabe]]` – Wann Abfragen" in hilfe.text


async def test_ungueltiger_zeitplan_zeigt_grund_aufruf_und_beispiel(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    for eingabe, grund in (
        ("mo 25:00", "Der Zeitplan „mo 25:00“ ist ungültig: die Uhrzeit „25:00“ gibt es nicht."),
        ("montags 09:00", "„montags“ ist kein Wochentag"),
        ("0 9 * *", "ein Cron-Ausdruck hat genau fünf Felder"),
        ("0 9 31 2 *", "gäbe es in den nächsten vier Jahren keine Abfrage"),
    ):
        antwort = await testbot.sende(f"!zeitplan energie {eingabe}", als=STABSSTELLE)
        assert grund in antwort.text, eingabe
        assert "Aufruf: `!zeitplan [themenfeld [zeitplan|vorgabe]]`" in antwort.text
        assert "Beispiel: `!zeitplan energie mo,do 09:00`" in antwort.text
    assert await _abfrage(sitzungen, "energie") == "mo 09:00"
    assert await _protokoll(sitzungen) == []


async def test_ueberlanger_zeitplan_wird_abgelehnt_statt_zum_internen_fehler(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    # Gefunden vom Fuzzing: eine Zahl mit mehr als 4300 Ziffern ließ `int()` scheitern.
    antwort = await testbot.sende(f"!zeitplan energie 1{'0' * 5000} 8 * * 1", als=STABSSTELLE)
    assert "ein Zeitplan hat höchstens 200 Zeichen" in antwort.text
    assert len(antwort.text) < 1000
    assert await _abfrage(sitzungen, "energie") == "mo 09:00"


async def test_neuer_zeitplan_holt_schon_vergangene_termine_nicht_nach(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    # Donnerstag 12:00 auf „mo,do 09:00“: der Termin von heute 09:00 lag vor der Änderung
    # und ist darum nicht „versäumt“ – keine verspätete Abfrage hinterher.
    tag = testbot.jetzt.astimezone(BERLIN).date() + dt.timedelta(days=1)
    while tag.weekday() != 3 or not ist_arbeitstag(tag):
        tag += dt.timedelta(days=1)
    testbot.jetzt = dt.datetime.combine(tag, dt.time(12, 0), tzinfo=BERLIN)
    antwort = await testbot.sende("!zeitplan energie mo,do 09:00", als=STABSSTELLE)
    assert "noch offen" not in antwort.text
    async with sitzungen() as sitzung:
        faellig = await faellige_abfragen(
            sitzung,
            jetzt=testbot.jetzt + dt.timedelta(minutes=1),
            zeitzone=BERLIN,
            standard=Zeitplan.aus_text("mo 09:00"),
            nachholfrist=dt.timedelta(hours=12),
        )
    assert [f for f in faellig if f.themenfeld_slug == "energie"] == []
