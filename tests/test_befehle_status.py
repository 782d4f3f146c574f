"""`!status` und `!meldung`: was eine Koordinatorin im Chat sieht."""

from __future__ import annotations

import pytest

from modelle.datenbank import Sitzungsfabrik
from tests.strukturen import als_text, beispiel_daten, eintrag, importiere
from tests.testbot import (
    AUSSENSTEHENDE,
    KOORDINATION_ENERGIE,
    PATIN_ENERGIE,
    PATIN_MOBILITAET,
    RAUM_ENERGIE,
    Testbot,
)


async def test_status_energie_zeigt_tabelle_der_projekte(testbot: Testbot) -> None:
    antwort = await testbot.sende("!status energie", als=KOORDINATION_ENERGIE)
    assert "Themenfeld Energie" in antwort.text
    assert "Kommunale Wärmeplanung" in antwort.text
    assert "<table>" in antwort.html
    assert antwort.nachricht.inhalt["msgtype"] == "m.notice"
    assert "waermeplanung" in antwort.nachricht.inhalt["de.klimabot.projekte"]


async def test_meldung_wird_gespeichert_und_mit_haken_quittiert(testbot: Testbot) -> None:
    antwort = await testbot.sende(
        "!meldung waermeplanung gelb 40% Ausschreibung verzögert sich", als=PATIN_ENERGIE
    )
    assert antwort.reaktionen == ["✅"]
    assert antwort.nachrichten == []
    status = await testbot.sende("!status waermeplanung", als=AUSSENSTEHENDE)
    assert "🟡 gelb" in status.text
    assert "40 %" in status.text
    assert "Ausschreibung verzögert sich" in status.text


async def test_umlaute_gross_klein_und_anfang_genuegen(testbot: Testbot) -> None:
    antwort = await testbot.sende("!STATUS Mobilitaet", als=AUSSENSTEHENDE)
    assert "Themenfeld Mobilität" in antwort.text
    antwort = await testbot.sende("!stat waermepl", als=AUSSENSTEHENDE)
    assert "Kommunale Wärmeplanung" in antwort.text
    assert "verstanden" in antwort.text


async def test_beim_gleichen_anfang_geht_das_themenfeld_dem_projekt_vor(testbot: Testbot) -> None:
    """„mobil“ passt auf das Feld Mobilität und das Projekt `mobilstationen`: Wer so fragt,
    meint meist das Feld (Issue 14) – die Antwort sagt, wie sie es verstanden hat."""
    antwort = await testbot.sende("!status mobil", als=AUSSENSTEHENDE)
    assert "passt auf mehrere" not in antwort.text
    assert "Themenfeld Mobilität" in antwort.text
    assert "(„mobil“ als Themenfeld „Mobilität“ verstanden)" in antwort.text


async def test_genauer_projektname_geht_einem_feldanfang_vor(testbot: Testbot) -> None:
    antwort = await testbot.sende("!status mobilstationen", als=AUSSENSTEHENDE)
    assert "(mobilstationen) – Themenfeld Mobilität" in antwort.text
    assert "Letzte Meldung:" in antwort.text


async def test_feld_vor_projekt_auch_wenn_das_projekt_im_feld_liegt(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    """Das Beispiel aus dem Issue: Feld „Wärmewende“, Projekt `waermepumpen-schulen`."""
    daten = beispiel_daten()
    eintrag(daten, "themenfeld", "energie")["aliase"].remove("waerme")
    daten["themenfeld"].append({"slug": "waermewende", "name": "Wärmewende"})
    eintrag(daten, "person", PATIN_ENERGIE)["patin"].append("waermewende")
    daten["projekt"].append(
        {
            "slug": "waermepumpen-schulen",
            "themenfeld": "waermewende",
            "titel": "Wärmepumpen für Schulen",
        }
    )
    await importiere(sitzungen, als_text(daten))
    antwort = await testbot.sende("!status wärme", als=AUSSENSTEHENDE)
    assert "Themenfeld Wärmewende" in antwort.text
    assert "passt auf mehrere" not in antwort.text


async def test_mehrdeutiger_anfang_nennt_die_kandidaten(testbot: Testbot) -> None:
    """Passen mehrere Felder gleich gut, bleibt es bei der Liste."""
    antwort = await testbot.sende("!status h", als=AUSSENSTEHENDE)
    assert "passt auf mehrere" in antwort.text
    assert "haushalte-konsum" in antwort.text
    assert "klimaanpassung" in antwort.text


async def test_nur_unsichtbare_zeichen_sind_kein_treffer_und_werden_gekuerzt(
    testbot: Testbot,
) -> None:
    """Nullbreite Zeichen zählen beim Vergleich nicht – übrig bleibt nichts, das passt."""
    antwort = await testbot.sende("!status " + "\ufeff" * 60_000, als=AUSSENSTEHENDE)
    assert "kenne ich nicht" in antwort.text
    assert "passt auf mehrere" not in antwort.text
    assert len(antwort.nachricht.inhalt["body"]) < 500


@pytest.mark.parametrize(
    ("anfang", "erwartet", "hoechstens"),
    [
        ("h", "passt auf mehrere", 1_000),
        # Auch der Hinweis „… als … verstanden“ wiederholt die Eingabe nur gekürzt.
        ("mobil", "als Themenfeld „Mobilität“ verstanden", 5_000),
    ],
    ids=["mehrdeutig", "gedeutet"],
)
async def test_ueberlange_eingabe_wird_gekuerzt_wiederholt(
    testbot: Testbot, anfang: str, erwartet: str, hoechstens: int
) -> None:
    antwort = await testbot.sende(f"!status {anfang}" + "\u200b" * 60_000, als=AUSSENSTEHENDE)
    assert erwartet in antwort.text
    assert "…" in antwort.text
    assert len(antwort.nachricht.inhalt["body"]) < hoechstens


async def test_tippfehler_bekommt_vorschlag(testbot: Testbot) -> None:
    antwort = await testbot.sende("!status enrgie", als=AUSSENSTEHENDE)
    assert "Meinten Sie *energie*?" in antwort.text


async def test_fremde_meldung_wird_hoeflich_abgelehnt(testbot: Testbot) -> None:
    antwort = await testbot.sende("!meldung waermeplanung rot alles schlecht", als=PATIN_MOBILITAET)
    assert "Entschuldigung" in antwort.text
    assert "Dr. Anna Becker" in antwort.text
    assert antwort.reaktionen == []


async def test_antwort_auf_projektnachricht_wird_meldung(testbot: Testbot) -> None:
    projekt = await testbot.sende("!status waermeplanung", als=PATIN_ENERGIE, raum=RAUM_ENERGIE)
    bot_nachricht = projekt.nachricht.event_id
    antwort = await testbot.sende(
        "gelb, 40 %, Ausschreibung verzögert sich",
        als=PATIN_ENERGIE,
        raum=RAUM_ENERGIE,
        antwort_auf=bot_nachricht,
    )
    assert antwort.reaktionen == ["✅"]
    status = await testbot.sende("!status waermeplanung", als=PATIN_ENERGIE)
    assert "🟡 gelb" in status.text


async def test_reaktion_bearbeiten_und_loeschen(testbot: Testbot) -> None:
    projekt = await testbot.sende("!status waermeplanung", als=PATIN_ENERGIE)
    tipp = await testbot.reagiere(projekt.nachricht.event_id, "🔴", als=PATIN_ENERGIE)
    assert "🔴 rot gespeichert" in tipp.text
    meldung = await testbot.sende("!meldung waermeplanung grün 50% läuft", als=PATIN_ENERGIE)
    await testbot.bearbeite(
        meldung.event_id, "!meldung waermeplanung gelb 55% hakt", als=PATIN_ENERGIE
    )
    assert "55 %" in (await testbot.sende("!status waermeplanung", als=PATIN_ENERGIE)).text
    await testbot.loesche(meldung.event_id, als=PATIN_ENERGIE)
    assert "🔴 rot" in (await testbot.sende("!status waermeplanung", als=PATIN_ENERGIE)).text


async def test_html_in_meldung_kommt_maskiert_zurueck(testbot: Testbot) -> None:
    await testbot.sende(
        "!meldung waermeplanung gelb <script>alert(1)</script> **fett**", als=PATIN_ENERGIE
    )
    antwort = await testbot.sende("!status waermeplanung", als=AUSSENSTEHENDE)
    assert "<script>" not in antwort.html
    assert "&lt;script&gt;" in antwort.html
    assert "**fett**" in antwort.html


async def test_dasselbe_ereignis_wird_nur_einmal_behandelt(testbot: Testbot) -> None:
    roh = {
        "type": "m.room.message",
        "sender": PATIN_ENERGIE,
        "event_id": "$doppelt",
        "content": {"msgtype": "m.text", "body": "!meldung waermeplanung gelb"},
    }
    erst = await testbot.ereignis(RAUM_ENERGIE, dict(roh))
    zweit = await testbot.ereignis(RAUM_ENERGIE, dict(roh))
    assert erst.reaktionen == ["✅"]
    assert zweit.alle == []


async def test_unbekannter_befehl_verweist_auf_hilfe(testbot: Testbot) -> None:
    antwort = await testbot.sende("!statsu", als=AUSSENSTEHENDE)
    assert "kenne ich nicht" in antwort.text
    assert "!status" in antwort.text
    assert "!hilfe" in antwort.text


async def test_ueberlange_eingaben_werden_gekuerzt_wiederholt_statt_die_antwort_zu_sprengen(
    testbot: Testbot,
) -> None:
    # Gefunden vom Fuzzing: wer 100 kB schickte, bekam nur „Die Antwort wäre zu lang …“.
    lang = "x" * 100_000
    for eingabe, antwort_beginnt in (
        (f"!{lang}", "Den Befehl „xxxx"),
        (f"!status {lang}", "Ein Themenfeld oder Projekt „xxxx"),
        (f"!hilfe {lang}", "Den Befehl „xxxx"),
        (f"!meldung waermeplanung {lang}", "„xxxx"),
    ):
        antwort = await testbot.sende(eingabe, als=PATIN_ENERGIE)
        assert antwort.text.startswith(antwort_beginnt), eingabe[:20]
        assert f"„{'x' * 59}…“" in antwort.text, eingabe[:20]


async def test_anfangsstand_aus_der_strukturdatei_gilt_nicht_als_meldung_von_heute(
    testbot: Testbot,
) -> None:
    antwort = await testbot.sende("!status energie", als=AUSSENSTEHENDE)
    zeile = next(z for z in antwort.text.splitlines() if "(waermeplanung)" in z)
    assert "Anfangsstand" in zeile
    assert "heute" not in zeile
    await testbot.sende("!meldung waermeplanung gelb 45% weiter", als=PATIN_ENERGIE)
    antwort = await testbot.sende("!status energie", als=AUSSENSTEHENDE)
    zeile = next(z for z in antwort.text.splitlines() if "(waermeplanung)" in z)
    assert "heute" in zeile


async def test_rechts_nach_links_eingabe_dreht_die_antwort_nicht_um(testbot: Testbot) -> None:
    # Vom Fuzzing angeregt: U+202E in der Eingabe drehte den Rest der Zeile des Bots um.
    antwort = await testbot.sende("!status \u202eegreine", als=PATIN_ENERGIE)
    assert "„\u2068\u202eegreine\u2069“" in antwort.text
    assert "\u2068\u202eegreine\u2069" in antwort.html
