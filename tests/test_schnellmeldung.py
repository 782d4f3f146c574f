"""Schnellmeldungen ohne Befehl: wem gilt eine Antwort, was bewirkt eine Reaktion."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from modelle.datenbank import Sitzungsfabrik
from modelle.tabellen import Person, Rollenzuweisung
from tests.testbot import (
    AUSSENSTEHENDE,
    KOORDINATION_ENERGIE,
    PATIN_ENERGIE,
    RAUM_ENERGIE,
    RAUM_MOBILITAET,
    STABSSTELLE,
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


# --- Wer zurückziehen und ändern darf (Issue 10, Punkt 4) ---------------------------------


async def _stand(testbot: Testbot, projekt: str) -> str:
    return (await testbot.sende(f"!status {projekt}", als=AUSSENSTEHENDE)).text


async def test_moderation_loescht_nachricht_die_meldung_bleibt(
    testbot: Testbot, caplog: pytest.LogCaptureFixture
) -> None:
    # Wer im Raum löschen darf (Moderation), zieht damit keine fremde Meldung zurück.
    meldung = await testbot.sende(
        "!meldung waermeplanung rot 10% Förderung fehlt", als=PATIN_ENERGIE, raum=RAUM_ENERGIE
    )
    geloescht = await testbot.loesche(meldung.event_id, als=KOORDINATION_ENERGIE, raum=RAUM_ENERGIE)
    assert geloescht.alle == []
    assert "🔴 rot" in await _stand(testbot, "waermeplanung")
    assert "bleibt stehen" in caplog.text


async def test_stabsstelle_zieht_fremde_meldung_per_loeschen_zurueck(testbot: Testbot) -> None:
    meldung = await testbot.sende(
        "!meldung waermeplanung rot 10%", als=PATIN_ENERGIE, raum=RAUM_ENERGIE
    )
    geloescht = await testbot.loesche(meldung.event_id, als=STABSSTELLE, raum=RAUM_ENERGIE)
    assert "zurückgezogen" in geloescht.text
    assert "🔴 rot" not in await _stand(testbot, "waermeplanung")


async def test_loeschung_aus_einem_anderen_raum_zieht_nichts_zurueck(testbot: Testbot) -> None:
    # Synapse lässt das nicht zu; über Föderation oder verschlüsselt kann es trotzdem kommen.
    meldung = await testbot.sende(
        "!meldung waermeplanung rot 10%", als=PATIN_ENERGIE, raum=RAUM_ENERGIE
    )
    geloescht = await testbot.loesche(meldung.event_id, als=PATIN_ENERGIE, raum=RAUM_MOBILITAET)
    assert geloescht.alle == []
    assert "🔴 rot" in await _stand(testbot, "waermeplanung")


async def test_eigene_reaktion_zuruecknehmen_nur_durch_die_person_selbst(testbot: Testbot) -> None:
    projekt = await testbot.sende("!status pv-offensive", als=PATIN_ENERGIE, raum=RAUM_ENERGIE)
    tipp = await testbot.reagiere(
        projekt.nachricht.event_id, "🔴", als=KOORDINATION_ENERGIE, raum=RAUM_ENERGIE
    )
    await testbot.loesche(tipp.event_id, als=PATIN_ENERGIE, raum=RAUM_ENERGIE)
    assert "🔴 rot" in await _stand(testbot, "pv-offensive")
    await testbot.loesche(tipp.event_id, als=KOORDINATION_ENERGIE, raum=RAUM_ENERGIE)
    assert "🔴 rot" not in await _stand(testbot, "pv-offensive")


async def _ohne_rolle(sitzungen: Sitzungsfabrik, matrix_id: str) -> None:
    """Wie ein Import ohne die Rolle der Person: sie bleibt Person, meldet aber nicht mehr."""
    async with sitzungen.begin() as sitzung:
        person = await sitzung.scalar(select(Person.id).where(Person.matrix_id == matrix_id))
        await sitzung.execute(delete(Rollenzuweisung).where(Rollenzuweisung.person_id == person))


async def test_antwortmeldung_aendert_nach_entzug_der_rolle_niemand_mehr(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    projekt = await testbot.sende("!status pv-offensive", als=PATIN_ENERGIE, raum=RAUM_ENERGIE)
    antwort = await testbot.sende(
        "gelb, 30 %, Dachstatik geprüft",
        als=KOORDINATION_ENERGIE,
        raum=RAUM_ENERGIE,
        antwort_auf=projekt.nachricht.event_id,
    )
    assert antwort.reaktionen == ["✅"]
    await _ohne_rolle(sitzungen, KOORDINATION_ENERGIE)

    bearbeitet = await testbot.bearbeite(
        antwort.event_id, "abgeschlossen, 100 %", als=KOORDINATION_ENERGIE, raum=RAUM_ENERGIE
    )
    assert "Entschuldigung" in bearbeitet.text
    assert "🟡 gelb" in await _stand(testbot, "pv-offensive")


async def test_befehlsmeldung_aendert_nach_entzug_der_rolle_niemand_mehr(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    meldung = await testbot.sende(
        "!meldung waermeplanung gelb 40%", als=KOORDINATION_ENERGIE, raum=RAUM_ENERGIE
    )
    await _ohne_rolle(sitzungen, KOORDINATION_ENERGIE)
    bearbeitet = await testbot.bearbeite(
        meldung.event_id,
        "!meldung waermeplanung grün 90%",
        als=KOORDINATION_ENERGIE,
        raum=RAUM_ENERGIE,
    )
    assert "Entschuldigung" in bearbeitet.text
    assert "🟡 gelb" in await _stand(testbot, "waermeplanung")


async def test_bearbeitung_in_einem_anderen_raum_aendert_die_meldung_nicht(
    testbot: Testbot,
) -> None:
    meldung = await testbot.sende(
        "!meldung waermeplanung gelb 40%", als=PATIN_ENERGIE, raum=RAUM_ENERGIE
    )
    await testbot.bearbeite(
        meldung.event_id, "!meldung waermeplanung rot 0%", als=PATIN_ENERGIE, raum=RAUM_MOBILITAET
    )
    assert "🟡 gelb" in await _stand(testbot, "waermeplanung")
