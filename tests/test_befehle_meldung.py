"""`!meldung`: wie Menschen melden, was der Bot daraus speichert und wer es darf."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from modelle.datenbank import Sitzungsfabrik
from modelle.tabellen import Statusmeldung, Strategieprojekt
from tests.testbot import (
    AUSSENSTEHENDE,
    KOORDINATION_ENERGIE,
    PATIN_ENERGIE,
    PATIN_MOBILITAET,
    STABSSTELLE,
    Testbot,
)


async def _meldungen(sitzungen: Sitzungsfabrik, projekt: str) -> int:
    """Wie viele Statusmeldungen zum Projekt gespeichert sind (der Anfangsstand zählt mit)."""
    async with sitzungen() as sitzung:
        anzahl = await sitzung.scalar(
            select(func.count(Statusmeldung.id))
            .join(Strategieprojekt, Strategieprojekt.id == Statusmeldung.projekt_id)
            .where(Strategieprojekt.slug == projekt)
        )
    return anzahl or 0


async def _letzte(testbot: Testbot, projekt: str) -> str:
    """Die Zeile der neuesten Meldung, wie `!verlauf` sie zeigt."""
    antwort = await testbot.sende(f"!verlauf {projekt} 1", als=AUSSENSTEHENDE)
    return next(z for z in antwort.text.splitlines() if z.startswith("*") and " · " in z)


async def test_alle_schreibweisen_der_ampel_werden_verstanden(testbot: Testbot) -> None:
    for eingabe, gespeichert in (
        ("grün", "🟢 grün"),
        ("gruen", "🟢 grün"),
        ("GRÜN", "🟢 grün"),
        ("🟢", "🟢 grün"),
        ("gelb", "🟡 gelb"),
        ("🟡", "🟡 gelb"),
        ("rot", "🔴 rot"),
        ("🔴", "🔴 rot"),
        ("abgeschlossen", "✅ abgeschlossen"),
        ("✅", "✅ abgeschlossen"),
    ):
        testbot.jetzt += dt.timedelta(minutes=1)
        antwort = await testbot.sende(
            f"!meldung pv-offensive {eingabe} Stand mit {eingabe}", als=PATIN_ENERGIE
        )
        assert antwort.reaktionen == ["✅"], eingabe
        assert f" · {gespeichert} · – · Stand mit {eingabe} · " in await _letzte(
            testbot, "pv-offensive"
        ), eingabe
        if gespeichert.endswith("abgeschlossen"):
            assert "„PV-Offensive auf städtischen Dächern“ ist als abgeschlossen gemeldet" in (
                antwort.text
            )
        else:
            assert antwort.nachrichten == [], eingabe


async def test_fortschritt_mit_und_ohne_leerzeichen_und_herausforderung(
    testbot: Testbot,
) -> None:
    await testbot.sende("!meldung waermeplanung gelb 40% Ausschreibung läuft", als=PATIN_ENERGIE)
    assert " · 🟡 gelb · 40 % · Ausschreibung läuft · " in await _letzte(testbot, "waermeplanung")
    testbot.jetzt += dt.timedelta(minutes=1)
    await testbot.sende(
        "!meldung waermeplanung rot 45 % Vergabe gestoppt Herausforderung: Klage eines Bieters",
        als=PATIN_ENERGIE,
    )
    assert (
        " · 🔴 rot · 45 % · Vergabe gestoppt · Herausforderung: Klage eines Bieters · "
        "Dr. Anna Becker"
    ) in await _letzte(testbot, "waermeplanung")
    status = await testbot.sende("!status energie", als=AUSSENSTEHENDE)
    assert "Klage eines Bieters" in status.text


async def test_anfang_des_projektnamens_genuegt_und_wird_genannt(testbot: Testbot) -> None:
    antwort = await testbot.sende("!meldung windenergie grün 20 %", als=PATIN_ENERGIE)
    assert antwort.reaktionen == ["✅"]
    assert "„windenergie“ als Projekt „Flächen für Windenergie ausweisen“ verstanden." in (
        antwort.text
    )
    assert " · 🟢 grün · 20 % · " in await _letzte(testbot, "windenergie-flaechen")


async def test_mehrdeutiger_oder_vertippter_projektname_speichert_nichts(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    antwort = await testbot.sende("!meldung klima gelb", als=STABSSTELLE)
    assert "„klima“ passt auf mehrere – bitte genauer angeben:" in antwort.text
    assert "`klimapakt-wirtschaft`" in antwort.text
    assert "`klimaschulen`" in antwort.text
    assert antwort.reaktionen == []
    assert await _meldungen(sitzungen, "klimaschulen") == 0
    vertippt = await testbot.sende("!meldung waermeplnaung gelb", als=PATIN_ENERGIE)
    assert "Das Projekt „waermeplnaung“ kenne ich nicht. Meinten Sie *waermeplanung*?" in (
        vertippt.text
    )
    assert vertippt.reaktionen == []
    assert await _meldungen(sitzungen, "waermeplanung") == 1


async def test_fehlende_oder_unbekannte_ampel_zeigt_aufruf_mit_beispiel(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    for eingabe, grund in (
        ("!meldung", "Es fehlen Projekt und Ampel."),
        ("!meldung waermeplanung", "Es fehlt die Ampel."),
        ("!meldung waermeplanung lila 40 %", "„lila“ ist keine Ampel."),
    ):
        antwort = await testbot.sende(eingabe, als=PATIN_ENERGIE)
        assert grund in antwort.text, eingabe
        assert "Aufruf: `!meldung <projekt> <ampel> [fortschritt %]" in antwort.text, eingabe
        assert "Beispiel: `!meldung waermeplanung gelb 40% Ausschreibung" in antwort.text, eingabe
        assert antwort.reaktionen == [], eingabe
    assert await _meldungen(sitzungen, "waermeplanung") == 1


async def test_satzzeichen_vor_der_ampel_werden_ueberlesen_statt_zum_internen_fehler(
    testbot: Testbot,
) -> None:
    # Gefunden vom Fuzzing: ein Komma oder Semikolon vor der Ampel brachte den Handler zum Absturz.
    antwort = await testbot.sende("!meldung waermeplanung , gelb 40% Vergabe", als=PATIN_ENERGIE)
    assert antwort.reaktionen == ["✅"]
    assert " · 🟡 gelb · 40 % · Vergabe · " in await _letzte(testbot, "waermeplanung")
    leer = await testbot.sende("!meldung waermeplanung ;", als=PATIN_ENERGIE)
    assert "Es fehlt die Ampel." in leer.text


async def test_nullzeichen_im_meldungstext_wird_entfernt_statt_zum_internen_fehler(
    testbot: Testbot,
) -> None:
    # Gefunden beim Fuzzing: PostgreSQL speichert kein Nullzeichen in einer Textspalte.
    antwort = await testbot.sende(
        "!meldung waermeplanung gelb 40% Ver\x00gabe Herausforderung: Kla\x00ge", als=PATIN_ENERGIE
    )
    assert antwort.reaktionen == ["✅"]
    assert " · 🟡 gelb · 40 % · Vergabe · Herausforderung: Klage · " in await _letzte(
        testbot, "waermeplanung"
    )


async def test_fortschritt_ueber_100_wird_erklaert_und_nichts_gespeichert(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    antwort = await testbot.sende("!meldung waermeplanung gelb 140% fast fertig", als=PATIN_ENERGIE)
    assert "Fortschritt 140 % liegt nicht zwischen 0 und 100." in antwort.text
    assert "Aufruf: `!meldung" in antwort.text
    assert antwort.reaktionen == []
    assert await _meldungen(sitzungen, "waermeplanung") == 1
    assert "Anfangsstand (Import)" in await _letzte(testbot, "waermeplanung")


async def test_person_ohne_rolle_wird_hoeflich_abgelehnt_und_erfaehrt_wer_meldet(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    antwort = await testbot.sende("!meldung waermeplanung rot", als=AUSSENSTEHENDE)
    assert antwort.text.startswith("Meldungen geben die Themenpat*innen, die ")
    assert "Klimakoordinator*innen und die Stabsstelle Klima ab" in antwort.text
    assert antwort.reaktionen == []
    assert await _meldungen(sitzungen, "waermeplanung") == 1


async def test_koordination_meldet_fuers_eigene_feld_stabsstelle_fuer_jedes(
    testbot: Testbot,
) -> None:
    koordination = await testbot.sende("!meldung waermeplanung grün 50 %", als=KOORDINATION_ENERGIE)
    assert koordination.reaktionen == ["✅"]
    assert "Fatma Yılmaz" in await _letzte(testbot, "waermeplanung")
    for projekt in ("radvorrangrouten", "klimabildung-kitas", "stadtbaeume"):
        antwort = await testbot.sende(f"!meldung {projekt} gelb geprüft", als=STABSSTELLE)
        assert antwort.reaktionen == ["✅"], projekt
        assert " · 🟡 gelb · – · geprüft · Kai Overbeck" in await _letzte(testbot, projekt)


async def test_patin_und_koordination_anderer_felder_werden_abgelehnt(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    patin = await testbot.sende("!meldung waermeplanung rot alles schlecht", als=PATIN_MOBILITAET)
    assert patin.text == (
        "Entschuldigung, Meldungen für das Themenfeld „Energie“ geben die Themenpat*in "
        "(Dr. Anna Becker), die Klimakoordinator*innen (Fatma Yılmaz, Lukas Terhorst) und "
        "die Stabsstelle Klima ab."
    )
    assert patin.reaktionen == []
    koordination = await testbot.sende("!meldung radvorrangrouten rot", als=KOORDINATION_ENERGIE)
    assert "Themenfeld „Mobilität“ geben die Themenpat*in (Thomas Reinhardt)" in (koordination.text)
    assert koordination.reaktionen == []
    assert await _meldungen(sitzungen, "waermeplanung") == 1
    assert await _meldungen(sitzungen, "radvorrangrouten") == 1


async def test_unsichtbares_zeichen_in_der_ampel_stoert_nicht(testbot: Testbot) -> None:
    # Vom Fuzzing angeregt: „gelb“ mit Nullbreitenzeichen war „keine Ampel“ – unsichtbar falsch.
    antwort = await testbot.sende(
        "!meldung waerme\u200bplanung gelb\u200b 40% Vergabe", als=PATIN_ENERGIE
    )
    assert antwort.reaktionen == ["✅"]
    assert " · 🟡 gelb · 40 % · Vergabe · " in await _letzte(testbot, "waermeplanung")
