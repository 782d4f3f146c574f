"""Schnellmeldungen ohne Befehl: wem gilt eine Antwort, was bewirkt eine Reaktion."""

from __future__ import annotations

from tests.testbot import (
    AUSSENSTEHENDE,
    KOORDINATION_ENERGIE,
    PATIN_ENERGIE,
    RAUM_ENERGIE,
    Testbot,
)


async def _tabelle(testbot: Testbot) -> str:
    antwort = await testbot.sende("!status energie", als=PATIN_ENERGIE, raum=RAUM_ENERGIE)
    return antwort.nachricht.event_id


async def test_antwort_auf_tabelle_mit_projektname_vorweg(testbot: Testbot) -> None:
    tabelle = await _tabelle(testbot)
    antwort = await testbot.sende(
        "pv-offensive gelb, 30 %, Dachstatik geprüft", als=PATIN_ENERGIE, antwort_auf=tabelle
    )
    assert antwort.reaktionen == ["✅"]
    stand = await testbot.sende("!status pv-offensive", als=AUSSENSTEHENDE)
    assert "Dachstatik geprüft" in stand.text


async def test_antwort_auf_tabelle_ohne_projektname_bekommt_hinweis(testbot: Testbot) -> None:
    tabelle = await _tabelle(testbot)
    antwort = await testbot.sende("gelb, 30 %", als=PATIN_ENERGIE, antwort_auf=tabelle)
    assert "mehrere Projekte" in antwort.text
    assert antwort.reaktionen == []


async def test_ueberlange_antwort_auf_tabelle_bekommt_gekuerztes_beispiel(testbot: Testbot) -> None:
    # Gefunden vom Fuzzing: das Beispiel wiederholte den ganzen Text, 100 kB sprengten die Antwort.
    tabelle = await _tabelle(testbot)
    antwort = await testbot.sende(f"gelb {'x' * 100_000}", als=PATIN_ENERGIE, antwort_auf=tabelle)
    assert "mehrere Projekte" in antwort.text
    assert f"`waermeplanung gelb {'x' * 54}…`" in antwort.text


async def test_plauderei_als_antwort_wird_nicht_zur_meldung(testbot: Testbot) -> None:
    tabelle = await _tabelle(testbot)
    assert (await testbot.sende("Danke!", als=PATIN_ENERGIE, antwort_auf=tabelle)).alle == []
    einzeln = await testbot.sende("!status waermeplanung", als=PATIN_ENERGIE)
    danke = await testbot.sende(
        "Super, danke", als=PATIN_ENERGIE, antwort_auf=einzeln.nachricht.event_id
    )
    assert danke.alle == []


async def test_reaktion_auf_tabelle_ist_mehrdeutig_und_wird_uebergangen(testbot: Testbot) -> None:
    tabelle = await _tabelle(testbot)
    assert (await testbot.reagiere(tabelle, "🟢", als=PATIN_ENERGIE)).alle == []


async def test_gleiche_ampel_per_reaktion_heisst_unveraendert(testbot: Testbot) -> None:
    await testbot.sende("!meldung waermeplanung gelb 40% Vergabe läuft", als=PATIN_ENERGIE)
    projekt = await testbot.sende("!status waermeplanung", als=PATIN_ENERGIE)
    tipp = await testbot.reagiere(projekt.nachricht.event_id, "🟡", als=KOORDINATION_ENERGIE)
    assert "(unverändert)" in tipp.text
    verlauf = await testbot.sende("!status waermeplanung", als=PATIN_ENERGIE)
    assert "40 %" in verlauf.text  # der Fortschritt bleibt stehen


async def test_reaktion_zuruecknehmen_zieht_meldung_zurueck(testbot: Testbot) -> None:
    projekt = await testbot.sende("!status pv-offensive", als=PATIN_ENERGIE)
    tipp = await testbot.reagiere(projekt.nachricht.event_id, "🔴", als=PATIN_ENERGIE)
    await testbot.loesche(tipp.event_id, als=PATIN_ENERGIE)
    stand = await testbot.sende("!status pv-offensive", als=AUSSENSTEHENDE)
    assert "🔴 rot" not in stand.text


async def test_fremde_bearbeitung_aendert_nichts(testbot: Testbot) -> None:
    meldung = await testbot.sende("!meldung waermeplanung gelb 40%", als=PATIN_ENERGIE)
    await testbot.bearbeite(meldung.event_id, "!meldung waermeplanung rot 0%", als=AUSSENSTEHENDE)
    assert "🟡 gelb" in (await testbot.sende("!status waermeplanung", als=AUSSENSTEHENDE)).text


async def test_vertippter_befehl_per_bearbeiten_korrigiert_wird_beantwortet(
    testbot: Testbot,
) -> None:
    falsch = await testbot.sende("!statsu energie", als=AUSSENSTEHENDE)
    assert "kenne ich nicht" in falsch.text
    richtig = await testbot.bearbeite(falsch.event_id, "!status energie", als=AUSSENSTEHENDE)
    assert "Themenfeld Energie" in richtig.text


async def test_ungueltige_bearbeitung_laesst_meldung_stehen(testbot: Testbot) -> None:
    meldung = await testbot.sende("!meldung waermeplanung gelb 40%", als=PATIN_ENERGIE)
    antwort = await testbot.bearbeite(
        meldung.event_id, "!meldung waermeplanung lila", als=PATIN_ENERGIE
    )
    assert "keine Ampel" in antwort.text
    assert "🟡 gelb" in (await testbot.sende("!status waermeplanung", als=AUSSENSTEHENDE)).text
