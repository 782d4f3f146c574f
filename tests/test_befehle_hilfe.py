"""`!hilfe`: jede Person sieht, was sie darf – erzeugt aus den Deklarationen der Befehle."""

from __future__ import annotations

import pytest

from befehle import alle_befehle
from befehle.grundlagen import Anfrage, Antwort, Berechtigung, befehl, keine_argumente
from befehle.nachricht import Nachricht
from modelle.datenbank import Sitzungsfabrik
from tests.testbot import (
    AUSSENSTEHENDE,
    KOORDINATION_ENERGIE,
    PATIN_ENERGIE,
    STABSSTELLE,
    Testbot,
)

FUER_ALLE = ("!hilfe", "!status", "!themen", "!projekte", "!wer", "!verlauf")


@befehl(
    name="archivieren",
    kurz="Ein Projekt archivieren",
    hilfe="Nur für diesen Test: ein Befehl, den allein die Stabsstelle benutzen darf.",
    abschnitt="Verwaltung",
    berechtigung=Berechtigung.STABSSTELLE,
    argumente=keine_argumente,
)
async def archivieren(anfrage: Anfrage, _: None) -> Antwort:
    return Antwort(Nachricht().absatz("archiviert"))


@pytest.fixture
def bot_mit_stabsstellenbefehl(sitzungen: Sitzungsfabrik, testbot: Testbot) -> Testbot:
    """Der Testbot mit einem zusätzlichen, nur der Stabsstelle erlaubten Befehl."""
    return Testbot(sitzungen, befehle=[*alle_befehle(), archivieren])


async def test_ohne_rolle_zeigt_hilfe_nur_auskunft_und_nicht_meldung(testbot: Testbot) -> None:
    antwort = await testbot.sende("!hilfe", als=AUSSENSTEHENDE)
    for befehl_ in FUER_ALLE:
        assert f"`{befehl_}" in antwort.text
    assert "!meldung" not in antwort.text
    assert "!meldung" not in antwort.html
    assert "Weitere Befehle nur für Themenpat*innen" in antwort.text


async def test_wer_melden_darf_sieht_meldung_in_der_hilfe(testbot: Testbot) -> None:
    for person in (PATIN_ENERGIE, KOORDINATION_ENERGIE, STABSSTELLE):
        antwort = await testbot.sende("!hilfe", als=person)
        assert "`!meldung <projekt> <ampel>" in antwort.text, person
        assert "`!status" in antwort.text, person
        # !bericht ist der Stabsstelle vorbehalten: nur die anderen bekommen den Hinweis.
        hinweis = "Weitere Befehle nur für die Stabsstelle Klima" in antwort.text
        assert hinweis == (person != STABSSTELLE), person
        assert ("`!bericht" in antwort.text) == (person == STABSSTELLE), person
    # Abschnitte und Befehle in der Reihenfolge der Registratur.
    reihenfolge = [
        "*Allgemein*",
        "!hilfe",
        "*Auskunft*",
        "!status",
        "!themen",
        "!projekte",
        "!wer",
        "!verlauf",
        "*Meldungen*",
        "!meldung",
        "*Stabsstelle*",
        "!bericht",
    ]
    positionen = [antwort.text.index(stichwort) for stichwort in reihenfolge]
    assert positionen == sorted(positionen)


async def test_stabsstellenbefehl_erscheint_nur_fuer_die_stabsstelle(
    bot_mit_stabsstellenbefehl: Testbot,
) -> None:
    bot = bot_mit_stabsstellenbefehl
    stabsstelle = await bot.sende("!hilfe", als=STABSSTELLE)
    assert "*Verwaltung*" in stabsstelle.text
    assert "`!archivieren` – Ein Projekt archivieren" in stabsstelle.text
    patin = await bot.sende("!hilfe", als=PATIN_ENERGIE)
    assert "!archivieren" not in patin.text
    assert "!meldung" in patin.text
    assert "Weitere Befehle nur für die Stabsstelle Klima." in patin.text
    aussen = await bot.sende("!hilfe", als=AUSSENSTEHENDE)
    assert "!archivieren" not in aussen.text
    assert "!meldung" not in aussen.text
    erklaert = await bot.sende("!hilfe archivieren", als=PATIN_ENERGIE)
    assert "Wer darf: die Stabsstelle Klima. Sie gehören nicht dazu" in erklaert.text


async def test_hilfe_meldung_erklaert_aufruf_aliase_und_beispiele(testbot: Testbot) -> None:
    antwort = await testbot.sende("!hilfe meldung", als=PATIN_ENERGIE)
    assert (
        "Aufruf: `!meldung <projekt> <ampel> [fortschritt %] [text] [Herausforderung: …]`"
        in antwort.text
    )
    assert "Auch: `!melden`" in antwort.text
    assert "`!meldung waermeplanung gelb 40% Ausschreibung verzögert sich`" in antwort.text
    assert "Ampel ist grün, gelb, rot oder abgeschlossen" in antwort.text
    assert "Sie dürfen das für: Energie." in antwort.text
    assert "<code>!meldung waermeplanung gelb 40% Ausschreibung" in antwort.html
    stabsstelle = await testbot.sende("!hilfe meldung", als=STABSSTELLE)
    assert "Sie dürfen das für alle Themenfelder." in stabsstelle.text


async def test_hilfe_meldung_ohne_rolle_erklaert_und_sagt_wer_darf(testbot: Testbot) -> None:
    antwort = await testbot.sende("!hilfe meldung", als=AUSSENSTEHENDE)
    assert "`!meldung waermeplanung gelb 40% Ausschreibung verzögert sich`" in antwort.text
    assert "Wer darf: Themenpat*innen und Klimakoordinator*innen" in antwort.text
    assert "Stabsstelle Klima" in antwort.text
    assert "Sie gehören nicht dazu" in antwort.text


async def test_hilfe_findet_befehl_ueber_alias_und_anfang(testbot: Testbot) -> None:
    for eingabe in ("melden", "meld", "!meldung", "MELDUNG"):
        antwort = await testbot.sende(f"!hilfe {eingabe}", als=AUSSENSTEHENDE)
        assert antwort.text.startswith("*!meldung* – Statusmeldung zu einem Projekt"), eingabe
    status = await testbot.sende("!hilfe stand", als=AUSSENSTEHENDE)
    assert status.text.startswith("*!status* – ")


async def test_hilfe_zu_jedem_befehl_kommt_aus_seiner_deklaration(testbot: Testbot) -> None:
    for deklaration in alle_befehle():
        antwort = await testbot.sende(f"!hilfe {deklaration.name}", als=STABSSTELLE)
        assert f"Aufruf: `{deklaration.aufruf('!')}`" in antwort.text
        assert deklaration.hilfe in antwort.text
        for beispiel in deklaration.beispiele:
            assert f"`!{beispiel}`" in antwort.text


async def test_hilfe_falsche_angaben_bekommen_vorschlag_oder_aufruf(
    testbot: Testbot,
) -> None:
    vertippt = await testbot.sende("!hilfe meldnug", als=AUSSENSTEHENDE)
    assert "Den Befehl „meldnug“ kenne ich nicht. Meinten Sie `!hilfe meldung`?" in vertippt.text
    fremd = await testbot.sende("!hilfe xyzzy", als=AUSSENSTEHENDE)
    assert "kenne ich nicht" in fremd.text
    assert "Meinten Sie" not in fremd.text
    assert "Alle Befehle: `!hilfe`" in fremd.text
    zwei = await testbot.sende("!hilfe status energie", als=AUSSENSTEHENDE)
    assert "Bitte nur einen Namen angeben." in zwei.text
    assert "Aufruf: `!hilfe [befehl]`" in zwei.text
    assert "Beispiel: `!hilfe meldung`" in zwei.text
