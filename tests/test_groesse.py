"""Größe: Benutzertext je Zelle gekürzt, gezählt in Bytes, wie Matrix zählt.

Das Kriterium aus Issue 10: Mit gültiger Eingabe größter Länge in jedem Projekt eines großen
Felds zeigen `!status <feld>` und der Wochenbericht weiter ihre Tabellen, nie den Notbehelf
„Die Antwort wäre zu lang …“ aus `bot/inhalt.py`; den vollen Text zeigen `!status <projekt>`
und `!verlauf`.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import update

from befehle.meldungsleser import MAX_TEXT
from befehle.nachricht import Nachricht, gekuerzt_auf
from bot.inhalt import MAX_INHALT_BYTES
from modelle.datenbank import Sitzungsfabrik
from modelle.strukturdatei import parse_struktur
from modelle.strukturimport import importiere_struktur
from modelle.tabellen import Aenderung, Statusmeldung
from tests.testbot import AUSSENSTEHENDE, PATIN_ENERGIE, STABSSTELLE, Gesendet, Testbot

NOTBEHELF = "Die Antwort wäre zu lang für eine Nachricht."

# Ein großes Feld: so viele Projekte wie eines der sieben Felder im großen Bestand von `bench/`.
PROJEKTE_GROSS = 43
# Zeichen, die viele Bytes brauchen (Emoji 4, Umlaute 2) oder maskiert werden (&, <, ").
BAUSTEIN = 'Wärmepumpe 🌍 für Ölheizung & <Süd> "Ost" ÄÖÜ 👩‍👩‍👧 '


def _lang(zeichen: int) -> str:
    return (BAUSTEIN * (zeichen // len(BAUSTEIN) + 1))[:zeichen]


def _grosse_struktur() -> str:
    """Ein Feld mit 43 Projekten, alles so lang, wie die Strukturdatei es erlaubt."""
    personen = f"""
[[themenfeld]]
slug = "gross"
name = {json.dumps(_lang(200), ensure_ascii=False)}
raum = "!gross:muenster.de"

[[person]]
matrix_id = "{PATIN_ENERGIE}"
name = {json.dumps(_lang(200), ensure_ascii=False)}
patin = ["gross"]

[[person]]
matrix_id = "{STABSSTELLE}"
name = {json.dumps(_lang(200), ensure_ascii=False)}
stabsstelle = true
"""
    projekte = "".join(
        f"""
[[projekt]]
slug = "{f"p{nummer:02d}-" + "x" * 60}"
themenfeld = "gross"
titel = {json.dumps(f"{nummer:02d} " + _lang(297), ensure_ascii=False)}
ampel = "gruen"
"""
        for nummer in range(PROJEKTE_GROSS)
    )
    return personen + projekte


async def _grosses_feld_mit_langen_meldungen(testbot: Testbot, sitzungen: Sitzungsfabrik) -> None:
    """Jedes Projekt wechselt in dieser Woche auf Rot, mit einer Meldung größter Länge."""
    async with sitzungen.begin() as sitzung:
        await importiere_struktur(sitzung, parse_struktur(_grosse_struktur(), "gross.toml"), "Test")
        # Die Anfangsstände und die Anlage liegen vor der Woche: so zeigt der Bericht Wechsel.
        vorher = testbot.jetzt - dt.timedelta(days=30)
        await sitzung.execute(update(Aenderung).values(zeitpunkt=vorher))
        await sitzung.execute(update(Statusmeldung).values(zeitpunkt=vorher))
    haelfte = MAX_TEXT // 2
    for nummer in range(PROJEKTE_GROSS):
        slug = f"p{nummer:02d}-" + "x" * 60
        text = f"{_lang(haelfte)} Herausforderung: {_lang(MAX_TEXT - haelfte)}"
        testbot.jetzt += dt.timedelta(seconds=5)  # nicht schneller, als die Drossel erlaubt
        antwort = await testbot.sende(f"!meldung {slug} rot 40% {text}", als=PATIN_ENERGIE)
        assert antwort.reaktionen == ["✅"], antwort.alle


def _passt(gesendet: Gesendet) -> None:
    assert NOTBEHELF not in gesendet.text
    groesse = len(json.dumps(gesendet.inhalt, ensure_ascii=False).encode())
    assert groesse <= MAX_INHALT_BYTES, groesse


async def test_status_eines_grossen_felds_mit_meldungen_groesster_laenge_zeigt_die_tabelle(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    await _grosses_feld_mit_langen_meldungen(testbot, sitzungen)
    antwort = await testbot.sende("!status gross", als=AUSSENSTEHENDE)
    _passt(antwort.nachricht)
    assert antwort.html.count("<tr>") == PROJEKTE_GROSS + 1
    assert len(antwort.nachricht.inhalt["de.klimabot.projekte"]) == PROJEKTE_GROSS
    # Gekürzt mit „…“; im Klartext steht je Projekt eine Zeile mit Titel und Herausforderung.
    zeilen = [z for z in antwort.text.splitlines() if z.startswith("🔴 rot")]
    assert len(zeilen) == PROJEKTE_GROSS
    assert all(z.count("…") == 2 for z in zeilen), zeilen[0]

    # Der volle Text steht im Projektstatus und im Verlauf.
    projekt = await testbot.sende("!status p00-" + "x" * 60, als=AUSSENSTEHENDE)
    _passt(projekt.nachricht)
    assert _lang(MAX_TEXT // 2).strip() in projekt.text


async def test_wochenbericht_eines_grossen_felds_mit_meldungen_groesster_laenge_zeigt_tabellen(
    testbot: Testbot, sitzungen: Sitzungsfabrik, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Das Diagramm zeigt nur Zählungen; hier zählt der Text.
    monkeypatch.setattr("befehle.bericht.ampel_diagramm", lambda _verlauf: b"\x89PNG")
    await _grosses_feld_mit_langen_meldungen(testbot, sitzungen)
    bericht = await testbot.sende("!bericht", als=STABSSTELLE)
    for gesendet in bericht.nachrichten:
        _passt(gesendet)
    feld = next(g for g in bericht.nachrichten if g.text.startswith("*Themenfeld"))
    # Zwei Tabellen (Ampelwechsel und Rot/Gelb), je eine Zeile je Projekt und ein Kopf.
    assert feld.html.count("<table>") == 2
    assert feld.html.count("<tr>") == 2 * (PROJEKTE_GROSS + 1)


async def test_projekte_eines_grossen_felds_passen_in_eine_nachricht(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    async with sitzungen.begin() as sitzung:
        await importiere_struktur(sitzung, parse_struktur(_grosse_struktur(), "gross.toml"), "Test")
    for befehl in ("!projekte gross", "!projekte"):
        antwort = await testbot.sende(befehl, als=AUSSENSTEHENDE)
        _passt(antwort.nachricht)
        assert antwort.text.count("…") == PROJEKTE_GROSS, befehl


async def test_verlauf_zeigt_den_vollen_text_so_vieler_meldungen_wie_passen(
    testbot: Testbot,
) -> None:
    text = _lang(MAX_TEXT - len("00 "))
    for nummer in range(20):
        testbot.jetzt += dt.timedelta(minutes=1)
        antwort = await testbot.sende(
            f"!meldung waermeplanung gelb {nummer:02d} {text}", als=PATIN_ENERGIE
        )
        assert antwort.reaktionen == ["✅"], antwort.alle
    verlauf = await testbot.sende("!verlauf waermeplanung 20", als=AUSSENSTEHENDE)
    _passt(verlauf.nachricht)
    # Die neueste zuerst, ganz; wie viele passen, hängt an den Bytes.
    assert f"19 {text}".strip() in verlauf.text
    assert "passen nicht mehr in diese Nachricht" in verlauf.text
    assert "<table>" in verlauf.html


@pytest.mark.parametrize(
    ("text", "hoechstens"),
    [
        ("a" * 1000, 100),
        ("ä" * 1000, 100),
        ("🌍" * 1000, 100),
        ("&" * 1000, 100),
        ('"' * 1000, 100),
        (_lang(1000), 100),
        (_lang(1000), 7),
    ],
    ids=["ascii", "umlaut", "emoji", "ampersand", "anfuehrung", "gemischt", "winzig"],
)
def test_zellen_werden_in_bytes_gekuerzt_wie_das_ereignis_sie_zaehlt(
    text: str, hoechstens: int
) -> None:
    zelle = gekuerzt_auf(text, hoechstens)
    assert zelle.endswith("…")
    nachricht = Nachricht().absatz(zelle)
    # Wie viel die Zelle im HTML (maskiert, JSON) belegt; der Klartext belegt nie mehr.
    html = len(json.dumps(nachricht.html, ensure_ascii=False).encode()) - len('"<p></p>"')
    assert html <= hoechstens
    assert len(json.dumps(zelle, ensure_ascii=False).encode()) - 2 <= html
    assert len(zelle) > 1 or hoechstens < 10


def test_kurzer_text_bleibt_ganz() -> None:
    assert gekuerzt_auf("Ausschreibung läuft", 100) == "Ausschreibung läuft"


@pytest.mark.parametrize(
    "zeichen",
    ["👩‍👩‍👧", "🇩🇪", "e\u0301", "👍🏽", "❤️"],
    ids=["familie", "flagge", "akzent", "hautfarbe", "variante"],
)
def test_gekuerzt_wird_nie_mitten_in_einem_zeichen(zeichen: str) -> None:
    for hoechstens in range(4, 60):
        zelle = gekuerzt_auf("x" + zeichen * 20, hoechstens).removesuffix("…")
        rest = zelle.removeprefix("x")
        assert rest == zeichen * (len(rest) // len(zeichen)), (hoechstens, zelle)


def test_rechts_nach_links_in_einer_zelle_wird_isoliert() -> None:
    zelle = gekuerzt_auf("\u202e" + "שלום " * 50, 60)
    assert zelle.startswith("\u2068")
    assert zelle.endswith("…\u2069")
    assert len(json.dumps(zelle, ensure_ascii=False).encode()) - 2 <= 60


@pytest.mark.parametrize(
    ("text", "isoliert"),
    [
        ("Wärmeplanung Straße", False),
        ("Ёлка и Ελλάδα", False),  # Kyrillisch und Griechisch laufen links nach rechts
        ("\u05be", True),  # das erste Zeichen mit Richtungswechsel (hebräisch Maqaf)
        ("Bauamt \u202b", True),  # ein Steuerzeichen allein genügt
        ("Plan 𐤀", True),  # phönizisch, jenseits der Grundebene
    ],
)
def test_isoliert_wird_genau_was_die_richtung_wechseln_kann(text: str, isoliert: bool) -> None:
    assert gekuerzt_auf(text, 200).startswith("\u2068") is isoliert


@pytest.mark.parametrize(
    "baustein",
    [BAUSTEIN, "\x01\x1f", "a", "&&<>", "👩‍👩‍👧"],
    ids=["gemischt", "steuer", "ascii", "html", "emoji"],
)
def test_passt_in_sagt_dasselbe_wie_die_gezaehlte_groesse(baustein: str) -> None:
    for laenge in (1, 10, 100, 1000, 5000):
        nachricht = Nachricht().absatz((baustein * laenge)[: laenge * 2])
        groesse = nachricht.groesse
        for grenze in (groesse - 1, groesse, groesse + 1, 6 * groesse):
            assert nachricht.passt_in(grenze) is (groesse <= grenze), (baustein, laenge, grenze)


@pytest.mark.parametrize("zeichen", ["\x01", "&", "🌍", "ä", "a", '"'])
def test_sechs_bytes_je_zeichen_passen_immer_und_nur_steuerzeichen_brauchen_sie(
    zeichen: str,
) -> None:
    # Worauf die Abkürzung in `gekuerzt_auf` baut: kein Zeichen belegt maskiert mehr als 6 Bytes.
    text = zeichen * 10
    assert gekuerzt_auf(text, 60) == text
    gekuerzt = gekuerzt_auf(text, 59)
    assert (gekuerzt != text) is (zeichen == "\x01")


def test_gerendert_wird_neu_wenn_ein_block_hinzukommt() -> None:
    nachricht = Nachricht().absatz("eins")
    assert nachricht.html == "<p>eins</p>"
    nachricht.absatz("zwei")
    assert nachricht.html == "<p>eins</p><p>zwei</p>"
    assert nachricht.text == "eins\n\nzwei"
    assert nachricht == Nachricht().absatz("eins").absatz("zwei")
