"""`!themen`, `!projekte`, `!wer`, `!verlauf` – und was für jede Antwort des Bots gilt."""

from __future__ import annotations

import datetime as dt
import re

from bot.inhalt import PROJEKTE
from tests.testbot import (
    AUSSENSTEHENDE,
    BERLIN,
    KOORDINATION_ENERGIE,
    PATIN_ENERGIE,
    PATIN_MOBILITAET,
    RAUM_ENERGIE,
    RAUM_MOBILITAET,
    RAUM_STABSSTELLE,
    STABSSTELLE,
    Gesendet,
    Testbot,
)

# Echte HTML-Elemente; Platzhalter wie `<projekt>` im Aufruf sind Klartext und erlaubt.
HTML_ELEMENT = re.compile(r"</?(?:p|br|strong|em|code|ul|li|table|thead|tbody|tr|th|td|a)\b[^>]*>")


def _tag(testbot: Testbot) -> str:
    return testbot.jetzt.astimezone(BERLIN).strftime("%d.%m.%Y")


# --- !themen -------------------------------------------------------------------------------


async def test_themen_listet_felder_mit_kuerzel_aliasen_projektzahl_und_patin(
    testbot: Testbot,
) -> None:
    antwort = await testbot.sende("!themen", als=AUSSENSTEHENDE)
    assert antwort.text.startswith("*7 Themenfelder*")
    assert (
        "*Energie* (`energie`) · 4 Projekte · Themenpat*in: Dr. Anna Becker"
        " · auch: strom, waerme, erneuerbare"
    ) in antwort.text
    assert "*Mobilität* (`mobilitaet`) · 3 Projekte · Themenpat*in: Thomas Reinhardt" in (
        antwort.text
    )
    assert "<th>Themenpat*in</th>" in antwort.html
    assert antwort.nachricht.inhalt["m.mentions"] == {"user_ids": []}
    assert PROJEKTE not in antwort.nachricht.inhalt
    im_feldraum = await testbot.sende("!themen", als=PATIN_ENERGIE, raum=RAUM_ENERGIE)
    assert im_feldraum.text == antwort.text


async def test_themen_mit_angabe_zeigt_aufruf_mit_beispiel(testbot: Testbot) -> None:
    antwort = await testbot.sende("!themen energie", als=AUSSENSTEHENDE)
    assert "Dieser Befehl braucht keine Angaben." in antwort.text
    assert "Aufruf: `!themen`" in antwort.text
    assert "Beispiel: `!themen`" in antwort.text


# --- !projekte -----------------------------------------------------------------------------


async def test_projekte_ohne_angabe_nach_feld_geordnet_ohne_projektbezug(
    testbot: Testbot,
) -> None:
    antwort = await testbot.sende("!projekte", als=AUSSENSTEHENDE)
    text = antwort.text
    assert "23 aktive Projekte" in text
    assert text.index("*Energie*") < text.index("`waermeplanung` – Kommunale Wärmeplanung")
    assert text.index("`waermeplanung`") < text.index("*Mobilität*")
    assert text.index("*Mobilität*") < text.index("`radvorrangrouten` – Radvorrangrouten")
    # Eine Antwort auf eine Liste aller Felder wäre nicht eindeutig zuzuordnen.
    assert PROJEKTE not in antwort.nachricht.inhalt


async def test_projekte_eines_felds_auch_im_feldraum_tragen_ihre_kuerzel_als_bezug(
    testbot: Testbot,
) -> None:
    antwort = await testbot.sende("!projekte energie", als=AUSSENSTEHENDE)
    assert antwort.text.startswith("*Themenfeld Energie* – 4 Projekte")
    assert "• `pv-offensive` – PV-Offensive auf städtischen Dächern" in antwort.text
    assert "Radvorrangrouten" not in antwort.text
    assert antwort.nachricht.inhalt[PROJEKTE] == [
        "waermeplanung",
        "pv-offensive",
        "fernwaerme-dekarbonisierung",
        "windenergie-flaechen",
    ]
    im_feldraum = await testbot.sende("!projekte", als=AUSSENSTEHENDE, raum=RAUM_MOBILITAET)
    assert im_feldraum.text.startswith("*Themenfeld Mobilität* – 3 Projekte")
    assert im_feldraum.nachricht.inhalt[PROJEKTE] == [
        "radvorrangrouten",
        "mobilstationen",
        "e-busflotte",
    ]
    gedeutet = await testbot.sende("!projekte Geb", als=AUSSENSTEHENDE)
    assert "*Themenfeld Gebäude*" in gedeutet.text
    assert "(„Geb“ als Themenfeld „Gebäude“ verstanden)" in gedeutet.text


async def test_projekte_falsche_angaben_bekommen_vorschlag_oder_aufruf(testbot: Testbot) -> None:
    vertippt = await testbot.sende("!projekte mobilitat", als=AUSSENSTEHENDE)
    assert "Das Themenfeld „mobilitat“ kenne ich nicht. Meinten Sie *mobilitaet*?" in vertippt.text
    zwei = await testbot.sende("!projekte energie mobilitaet", als=AUSSENSTEHENDE)
    assert "Bitte nur einen Namen angeben." in zwei.text
    assert "Aufruf: `!projekte [themenfeld]`" in zwei.text
    assert "Beispiel: `!projekte energie`" in zwei.text


async def test_antwort_auf_projektliste_eines_felds_wird_meldung(testbot: Testbot) -> None:
    liste = await testbot.sende("!projekte", als=PATIN_ENERGIE, raum=RAUM_ENERGIE)
    antwort = await testbot.sende(
        "pv-offensive grün, 30 %, zwei Schulen fertig",
        als=PATIN_ENERGIE,
        raum=RAUM_ENERGIE,
        antwort_auf=liste.nachricht.event_id,
    )
    assert antwort.reaktionen == ["✅"]
    verlauf = await testbot.sende("!verlauf pv-offensive 1", als=PATIN_ENERGIE)
    assert "🟢 grün · 30 % · zwei Schulen fertig · Dr. Anna Becker" in verlauf.text


# --- !wer ----------------------------------------------------------------------------------


async def test_wer_nennt_patin_koordination_und_raum_ohne_zu_pingen_auch_im_feldraum(
    testbot: Testbot,
) -> None:
    antwort = await testbot.sende("!wer energie", als=AUSSENSTEHENDE)
    assert antwort.text.splitlines()[:4] == [
        "*Themenfeld Energie*",
        "Themenpat*in: Dr. Anna Becker (`@anna.becker:muenster.de`)",
        "Klimakoordinator*innen: Fatma Yılmaz (`@fatma.yilmaz:muenster.de`), "
        "Lukas Terhorst (`@lukas.terhorst:muenster.de`)",
        "Raum: `#klima-energie:muenster.de`",
    ]
    assert "Stabsstelle Klima – Kai Overbeck (`@kai.overbeck:muenster.de`)" in antwort.text
    assert "<code>@anna.becker:muenster.de</code>" in antwort.html
    assert antwort.nachricht.inhalt["m.mentions"] == {"user_ids": []}
    assert "matrix.to" not in antwort.html
    im_feldraum = await testbot.sende("!wer", als=AUSSENSTEHENDE, raum=RAUM_MOBILITAET)
    assert im_feldraum.text.startswith("*Themenfeld Mobilität*\nThemenpat*in: Thomas Reinhardt")
    assert "Dr. Anna Becker" not in im_feldraum.text


async def test_wer_ohne_angabe_zeigt_alle_felder_und_die_stabsstelle(testbot: Testbot) -> None:
    antwort = await testbot.sende("!wer", als=AUSSENSTEHENDE, raum=RAUM_STABSSTELLE)
    text = antwort.text
    assert "*Energie*: Themenpat*in Dr. Anna Becker (`@anna.becker:muenster.de`)" in text
    assert "*Klimaanpassung*: Themenpat*in Dr. Miriam Oltmann" in text
    assert "Raum `#klima-klimaanpassung:muenster.de`" in text
    assert (
        "*Stabsstelle Klima*: Kai Overbeck (`@kai.overbeck:muenster.de`), "
        "Lena Hüsing (`@lena.huesing:muenster.de`)"
    ) in text
    assert "<table>" in antwort.html
    assert antwort.nachricht.inhalt["m.mentions"] == {"user_ids": []}
    assert "matrix.to" not in antwort.html


async def test_wer_deutet_anfang_schlaegt_vor_und_zeigt_aufruf(testbot: Testbot) -> None:
    gedeutet = await testbot.sende("!wer klimaanp", als=AUSSENSTEHENDE)
    assert "*Themenfeld Klimaanpassung*" in gedeutet.text
    assert "(„klimaanp“ als Themenfeld „Klimaanpassung“ verstanden)" in gedeutet.text
    vertippt = await testbot.sende("!wer gebeude", als=AUSSENSTEHENDE)
    assert "Meinten Sie *gebaeude*?" in vertippt.text
    zwei = await testbot.sende("!wer ist das", als=AUSSENSTEHENDE)
    assert "Aufruf: `!wer [themenfeld]`" in zwei.text
    assert "Beispiel: `!wer energie`" in zwei.text


# --- !verlauf ------------------------------------------------------------------------------


async def test_verlauf_zeigt_die_letzten_fuenf_meldungen_neueste_zuerst(
    testbot: Testbot,
) -> None:
    tage = []
    for nummer in range(1, 8):
        testbot.jetzt += dt.timedelta(days=1)
        tage.append(_tag(testbot))
        await testbot.sende(
            f"!meldung waermeplanung gelb {nummer * 10}% Schritt {nummer} "
            f"Herausforderung: Engpass {nummer}",
            als=KOORDINATION_ENERGIE,
        )
    antwort = await testbot.sende("!verlauf waermeplanung", als=AUSSENSTEHENDE)
    zeilen = [z for z in antwort.text.splitlines() if z.startswith("*") and " · " in z]
    assert antwort.text.startswith("*Kommunale Wärmeplanung* (waermeplanung) – letzte 5 Meldungen")
    assert zeilen == [
        f"*{tage[n - 1]}* · 🟡 gelb · {n * 10} % · Schritt {n} · Herausforderung: Engpass {n}"
        " · Fatma Yılmaz"
        for n in (7, 6, 5, 4, 3)
    ]
    assert "<th>Herausforderungen</th>" in antwort.html
    assert antwort.nachricht.inhalt[PROJEKTE] == ["waermeplanung"]


async def test_verlauf_mit_anzahl_und_anfangsstand_aus_dem_import(testbot: Testbot) -> None:
    await testbot.sende("!meldung radvorrangrouten rot Grunderwerb stockt", als=PATIN_MOBILITAET)
    antwort = await testbot.sende("!verlauf radvorr 20", als=AUSSENSTEHENDE)
    assert "letzte 2 Meldungen" in antwort.text
    assert "🔴 rot · – · Grunderwerb stockt · Thomas Reinhardt" in antwort.text
    assert "🟡 gelb · 35 % · Anfangsstand (Import)" in antwort.text
    assert "(„radvorr“ als Projekt „Radvorrangrouten ins Umland“ verstanden)" in antwort.text
    einzeln = await testbot.sende("!verlauf radvorrangrouten 1", als=AUSSENSTEHENDE)
    assert "– letzte Meldung" in einzeln.text
    assert "Anfangsstand" not in einzeln.text
    leer = await testbot.sende("!verlauf e-busflotte", als=AUSSENSTEHENDE)
    assert "Zu diesem Projekt gibt es noch keine Meldung." in leer.text
    assert leer.nachricht.inhalt[PROJEKTE] == ["e-busflotte"]


async def test_verlauf_falsche_angaben_zeigen_aufruf_mit_beispiel(testbot: Testbot) -> None:
    for eingabe, grund in (
        ("!verlauf", "Es fehlt das Projekt."),
        ("!verlauf waermeplanung viele", "„viele“ ist keine gültige Anzahl"),
        ("!verlauf waermeplanung 0", "„0“ ist keine gültige Anzahl"),
        ("!verlauf waermeplanung 21", "bitte eine Zahl von 1 bis 20"),
        ("!verlauf waermeplanung -3", "„-3“ ist keine gültige Anzahl"),
        ("!verlauf waermeplanung 5 7", "Bitte nur das Projekt und eine Anzahl angeben."),
    ):
        antwort = await testbot.sende(eingabe, als=AUSSENSTEHENDE)
        assert grund in antwort.text, eingabe
        assert "Aufruf: `!verlauf <projekt> [anzahl]`" in antwort.text, eingabe
        assert "Beispiel: `!verlauf waermeplanung 10`" in antwort.text, eingabe


async def test_verlauf_mit_riesiger_anzahl_bekommt_aufruf_statt_internem_fehler(
    testbot: Testbot,
) -> None:
    # Gefunden vom Fuzzing: `int()` verweigert Zahlen mit mehr als 4300 Ziffern.
    antwort = await testbot.sende(f"!verlauf waermeplanung {'9' * 5000}", als=AUSSENSTEHENDE)
    assert f"„{'9' * 59}…“ ist keine gültige Anzahl" in antwort.text
    assert "Aufruf: `!verlauf <projekt> [anzahl]`" in antwort.text


async def test_verlauf_unbekanntes_projekt_bekommt_vorschlag(testbot: Testbot) -> None:
    antwort = await testbot.sende("!verlauf waermeplnaung", als=AUSSENSTEHENDE)
    assert "Das Projekt „waermeplnaung“ kenne ich nicht. Meinten Sie *waermeplanung*?" in (
        antwort.text
    )
    fremd = await testbot.sende("!verlauf gibtsnicht", als=AUSSENSTEHENDE)
    assert "Das Projekt „gibtsnicht“ kenne ich nicht. Übersicht: `!projekte`" in fremd.text


# --- Was für jede Antwort gilt -------------------------------------------------------------


async def test_meldungstext_mit_html_und_markdown_erscheint_ueberall_maskiert(
    testbot: Testbot,
) -> None:
    await testbot.sende(
        "!meldung waermeplanung gelb 40 % <b>x</b> **fett** [Link](https://example.org) "
        "Herausforderung: <i>y</i> _kursiv_",
        als=PATIN_ENERGIE,
    )
    # Die Feldtabelle zeigt nur die Herausforderung, Projektstatus und Verlauf auch den Text.
    for befehl, mit_text in (
        ("!status energie", False),
        ("!status waermeplanung", True),
        ("!verlauf waermeplanung", True),
    ):
        antwort = await testbot.sende(befehl, als=AUSSENSTEHENDE)
        assert "&lt;i&gt;y&lt;/i&gt; _kursiv_" in antwort.html, befehl
        assert "<i>" not in antwort.html, befehl
        assert "<em>kursiv</em>" not in antwort.html, befehl
        # Im Klartext steht, was die Person geschrieben hat – `body` ist kein HTML.
        assert "<i>y</i> _kursiv_" in antwort.text, befehl
        if mit_text:
            assert "&lt;b&gt;x&lt;/b&gt; **fett** [Link](https://example.org)" in antwort.html
            assert "<b>" not in antwort.html, befehl
            assert "<strong>fett</strong>" not in antwort.html, befehl
            assert 'href="https://example.org"' not in antwort.html, befehl
            assert "<b>x</b> **fett**" in antwort.text, befehl


def _pruefe_notiz(gesendet: Gesendet, befehl: str) -> None:
    inhalt = gesendet.inhalt
    assert inhalt["msgtype"] == "m.notice", befehl
    assert gesendet.text.strip(), befehl
    assert HTML_ELEMENT.search(gesendet.text) is None, (befehl, gesendet.text)
    assert inhalt["format"] == "org.matrix.custom.html", befehl
    assert gesendet.html.startswith("<"), befehl


async def test_jede_antwort_ist_eine_notiz_mit_klartext_und_html(testbot: Testbot) -> None:
    anfragen = [
        ("!hilfe", AUSSENSTEHENDE, RAUM_STABSSTELLE),
        ("!hilfe meldung", AUSSENSTEHENDE, RAUM_STABSSTELLE),
        ("!hilfe meldnug", AUSSENSTEHENDE, RAUM_STABSSTELLE),
        ("!hilfe a b", AUSSENSTEHENDE, RAUM_STABSSTELLE),
        ("!status", AUSSENSTEHENDE, RAUM_STABSSTELLE),
        ("!status", PATIN_ENERGIE, RAUM_ENERGIE),
        ("!status waermeplanung", AUSSENSTEHENDE, RAUM_STABSSTELLE),
        ("!status enrgie", AUSSENSTEHENDE, RAUM_STABSSTELLE),
        ("!themen", AUSSENSTEHENDE, RAUM_STABSSTELLE),
        ("!themen x", AUSSENSTEHENDE, RAUM_STABSSTELLE),
        ("!projekte", AUSSENSTEHENDE, RAUM_STABSSTELLE),
        ("!projekte", AUSSENSTEHENDE, RAUM_ENERGIE),
        ("!projekte mobil", AUSSENSTEHENDE, RAUM_STABSSTELLE),
        ("!wer", STABSSTELLE, RAUM_STABSSTELLE),
        ("!wer", STABSSTELLE, RAUM_MOBILITAET),
        ("!wer xyz", STABSSTELLE, RAUM_STABSSTELLE),
        ("!verlauf waermeplanung", AUSSENSTEHENDE, RAUM_STABSSTELLE),
        ("!verlauf e-busflotte", AUSSENSTEHENDE, RAUM_STABSSTELLE),
        ("!verlauf waermeplanung 99", AUSSENSTEHENDE, RAUM_STABSSTELLE),
        ("!meldung waermeplanung gelb", AUSSENSTEHENDE, RAUM_STABSSTELLE),
        ("!meldung waermeplanung lila", PATIN_ENERGIE, RAUM_STABSSTELLE),
        ("!meldung waermeplanung rot", PATIN_MOBILITAET, RAUM_STABSSTELLE),
        ("!meldung klima gelb", STABSSTELLE, RAUM_STABSSTELLE),
        ("!meldung steckers abgeschlossen", STABSSTELLE, RAUM_STABSSTELLE),
        ("!gibtsnicht", AUSSENSTEHENDE, RAUM_STABSSTELLE),
    ]
    for befehl, person, raum in anfragen:
        antwort = await testbot.sende(befehl, als=person, raum=raum)
        assert len(antwort.nachrichten) == 1, befehl
        _pruefe_notiz(antwort.nachricht, befehl)
