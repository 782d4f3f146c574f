"""Das Kapitel für den Klimabericht: was die Stabsstelle für einen Zeitraum druckt
(`klimabot bericht --format html|md`), mit den Diagrammen als Bildern daneben."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from befehle.klimabericht import kapitel_text, schreibe_kapitel
from bot.cli import main
from modelle.datenbank import Sitzungsfabrik
from modelle.klimabericht import (
    Kapitelfeld,
    Klimaberichtkapitel,
    stelle_kapitel_zusammen,
    stichtage_fuer,
)
from modelle.meldungen import speichere_meldung
from modelle.tabellen import Strategieprojekt
from modelle.werte import Ampel, Quelle
from tests.woche import ANNA, THOMAS, Woche, erlebe_woche, erlebe_woche_in

BERLIN = ZoneInfo("Europe/Berlin")


async def _kapitel(
    sitzungen: Sitzungsfabrik, von: dt.datetime, bis: dt.datetime
) -> Klimaberichtkapitel:
    async with sitzungen() as sitzung:
        return await stelle_kapitel_zusammen(sitzung, von=von, bis=bis, zeitzone=BERLIN)


def _namen(ordner: Path) -> list[str]:
    return sorted(p.name for p in ordner.iterdir())


def _feld(kapitel: Klimaberichtkapitel, slug: str) -> Kapitelfeld:
    return next(f for f in kapitel.felder if f.slug == slug)


# --- Inhalt --------------------------------------------------------------------------------


async def test_kapitel_nennt_abschluss_ampelwechsel_und_herausforderung(
    sitzungen: Sitzungsfabrik,
) -> None:
    woche = await erlebe_woche(sitzungen)
    energie = _feld(await _kapitel(sitzungen, woche.von, woche.bis), "energie")

    assert [w.projekt_slug for w in energie.abgeschlossen] == ["windenergie"]
    assert [(v.projekt_slug, [(s.alt, s.neu) for s in v.schritte]) for v in energie.wechsel] == [
        ("waermeplanung", [(Ampel.GRUEN, Ampel.GELB)]),
        ("windenergie", [(Ampel.ROT, Ampel.ABGESCHLOSSEN)]),
    ]
    assert [(h.projekt_slug, h.text) for h in energie.herausforderungen] == [
        ("waermeplanung", "Vergabe <b>dauert</b>")
    ]
    assert energie.ende.ampeln[Ampel.GELB] == 1
    assert energie.anfang.ampeln[Ampel.GELB] == 0  # die Geothermie ist heute archiviert


async def test_ueber_ein_jahr_zaehlt_auch_ein_im_jahr_aufgenommenes_und_beendetes_projekt(
    sitzungen: Sitzungsfabrik,
) -> None:
    woche = await erlebe_woche(sitzungen)
    kapitel = await _kapitel(sitzungen, woche.bis - dt.timedelta(days=365), woche.bis)
    energie = _feld(kapitel, "energie")

    # Die Windenergie wurde vor zwei Monaten aufgenommen und in der Woche abgeschlossen.
    assert [w.projekt_slug for w in energie.abgeschlossen] == ["windenergie"]
    # Der erste Stand eines neuen Projekts ist kein Wechsel, erst der nächste andere.
    assert [(v.projekt_slug, [(s.alt, s.neu) for s in v.schritte]) for v in energie.wechsel] == [
        ("waermeplanung", [(Ampel.GRUEN, Ampel.GELB)]),
        ("windenergie", [(Ampel.ROT, Ampel.ABGESCHLOSSEN)]),
    ]
    assert "nahwaerme" in [n.projekt_slug for n in energie.neu]
    assert kapitel.monatsweise
    assert len(kapitel.stichtage) in (13, 14)


async def test_dieselbe_herausforderung_steht_einmal_zurueckgezogene_gar_nicht(
    sitzungen: Sitzungsfabrik,
) -> None:
    woche = await erlebe_woche(sitzungen)
    async with sitzungen.begin() as sitzung:
        projekt_id = await sitzung.scalar(
            select(Strategieprojekt.id).where(Strategieprojekt.slug == "waermeplanung")
        )
        assert projekt_id is not None

        async def melde(stunden: int, herausforderung: str) -> None:
            meldung = await speichere_meldung(
                sitzung,
                projekt_id=projekt_id,
                autor_id=None,
                ampel=Ampel.GELB,
                fortschritt=None,
                text="",
                herausforderungen=herausforderung,
                quelle=Quelle.BEFEHL,
                zeitpunkt=woche.von + dt.timedelta(days=2, hours=stunden),
            )
            if herausforderung.startswith("versehentlich"):
                meldung.zurueckgezogen = True

        await melde(1, "Vergabe   <b>dauert</b>")  # dieselbe, nur anders umbrochen
        await melde(2, "versehentlich gemeldet")
        await melde(3, "Fachkräfte fehlen")
        await melde(4, "   ")

    energie = _feld(await _kapitel(sitzungen, woche.von, woche.bis), "energie")

    assert [h.text for h in energie.herausforderungen] == [
        "Vergabe <b>dauert</b>",
        "Fachkräfte fehlen",
    ]


async def test_jeder_wechsel_zaehlt_auch_hin_und_zurueck(sitzungen: Sitzungsfabrik) -> None:
    woche = await erlebe_woche(sitzungen)
    async with sitzungen.begin() as sitzung:
        projekt_id = await sitzung.scalar(
            select(Strategieprojekt.id).where(Strategieprojekt.slug == "waermeplanung")
        )
        assert projekt_id is not None
        await speichere_meldung(
            sitzung,
            projekt_id=projekt_id,
            autor_id=None,
            ampel=Ampel.GRUEN,
            fortschritt=45,
            text="Vergabe erteilt",
            herausforderungen=None,
            quelle=Quelle.BEFEHL,
            zeitpunkt=woche.von + dt.timedelta(days=5),
        )

    kapitel = await _kapitel(sitzungen, woche.von, woche.bis)
    waermeplanung = _feld(kapitel, "energie").wechsel[0]

    assert waermeplanung.projekt_slug == "waermeplanung"
    assert [(s.alt, s.neu) for s in waermeplanung.schritte] == [
        (Ampel.GRUEN, Ampel.GELB),
        (Ampel.GELB, Ampel.GRUEN),
    ]
    assert waermeplanung.anfang is waermeplanung.ende is Ampel.GRUEN
    html = kapitel_text(kapitel, BERLIN, "html")
    assert "🟢 grün → 🟡 gelb (" in html
    assert ") → 🟢 grün (" in html


def test_stichtage_woechentlich_bis_zum_halben_jahr_darueber_monatlich() -> None:
    bis = dt.datetime(2027, 1, 1, tzinfo=BERLIN)
    wochen = stichtage_fuer(bis - dt.timedelta(weeks=12), bis, BERLIN)
    jahr = stichtage_fuer(dt.datetime(2026, 1, 1, tzinfo=BERLIN), bis, BERLIN)

    assert len(wochen) == 13
    # Über die Zeitumstellung hinweg bleibt es Mitternacht Ortszeit.
    assert {t.astimezone(BERLIN).hour for t in wochen} == {0}
    assert [t.astimezone(BERLIN).strftime("%d.%m.") for t in jahr] == [
        f"01.{monat:02d}." for monat in range(1, 13)
    ] + ["01.01."]


# --- Darstellung ---------------------------------------------------------------------------


async def test_html_ist_druckbar_maskiert_und_nennt_keine_personen(
    sitzungen: Sitzungsfabrik, tmp_path: Path
) -> None:
    woche = await erlebe_woche(sitzungen)
    kapitel = await _kapitel(sitzungen, woche.von, woche.bis)

    geschrieben = schreibe_kapitel(kapitel, tmp_path / "kapitel.html", "html", BERLIN)
    html = geschrieben[0].read_text(encoding="utf-8")

    assert "@media print" in html
    assert "@page" in html
    assert "Vergabe &lt;b&gt;dauert&lt;/b&gt;" in html
    assert "<b>dauert" not in html
    for person in (ANNA, THOMAS, "Anna Becker", "Thomas Reinhardt"):
        assert person not in html
    assert re.search(r"@[\w.=-]+:", html) is None  # keine Matrix-ID
    assert "<script" not in html
    # Die Bilder liegen daneben, und das HTML verweist relativ auf sie.
    verweise = re.findall(r'<img src="([^"]+)"', html)
    assert verweise == [
        "kapitel-bilder/ampeln-gesamt.svg",
        *(f"kapitel-bilder/ampeln-{f.slug}.svg" for f in kapitel.felder),
    ]
    for verweis in verweise:
        assert (tmp_path / verweis).read_bytes().startswith(b"<?xml")
    assert all(p.exists() for p in geschrieben)


async def test_markdown_maskiert_und_verweist_auf_png(
    sitzungen: Sitzungsfabrik, tmp_path: Path
) -> None:
    woche = await erlebe_woche(sitzungen)
    kapitel = await _kapitel(sitzungen, woche.von, woche.bis)

    schreibe_kapitel(kapitel, tmp_path / "kapitel.md", "md", BERLIN)
    markdown = (tmp_path / "kapitel.md").read_text(encoding="utf-8")

    assert markdown.startswith("# Strategieprojekte der Themenfelder\n")
    assert "\n## Energie\n" in markdown
    assert "- ✅ Flächen für Windenergie – abgeschlossen am " in markdown
    assert "| Kommunale Wärmeplanung | 🟢 grün → 🟡 gelb (" in markdown
    assert "Vergabe \\<b\\>dauert\\</b\\>" in markdown
    assert "](kapitel-bilder/ampeln-energie.png)" in markdown
    assert (tmp_path / "kapitel-bilder" / "ampeln-energie.png").read_bytes()[:4] == b"\x89PNG"
    # Ein Listenpunkt je Zeile: nichts klebt an der nächsten Überschrift.
    assert re.search(r"[^\n]\n#", markdown) is None


def test_ohne_bilder_kein_verweis() -> None:
    von = dt.datetime(2026, 1, 1, tzinfo=BERLIN)
    kapitel = Klimaberichtkapitel(von=von, bis=von + dt.timedelta(days=7), stichtage=(), felder=())
    assert "<img" not in kapitel_text(kapitel, BERLIN, "html")
    assert "![" not in kapitel_text(kapitel, BERLIN, "md")


async def test_neues_kapitel_ersetzt_das_alte_samt_bildern(
    sitzungen: Sitzungsfabrik, tmp_path: Path
) -> None:
    woche = await erlebe_woche(sitzungen)
    kapitel = await _kapitel(sitzungen, woche.von, woche.bis)
    bilder = tmp_path / "kapitel-bilder"
    bilder.mkdir()
    (bilder / "ampeln-altes-feld.svg").write_text("alt", encoding="utf-8")

    schreibe_kapitel(kapitel, tmp_path / "kapitel.html", "html", BERLIN)
    schreibe_kapitel(kapitel, tmp_path / "kapitel.md", "md", BERLIN)

    assert not (bilder / "ampeln-altes-feld.svg").exists()
    # HTML und Markdown desselben Namens teilen sich den Ordner: beide finden ihre Bilder.
    assert (bilder / "ampeln-energie.svg").exists()
    assert (bilder / "ampeln-energie.png").exists()
    # Keine Reste der Zwischenschritte (die Datenbank des Tests liegt auch hier).
    assert [n for n in _namen(tmp_path) if "kapitel" in n] == [
        "kapitel-bilder",
        "kapitel.html",
        "kapitel.md",
    ]


# --- Kommandozeile -------------------------------------------------------------------------


@pytest.fixture
def cli_woche(datenbank_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Woche:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KLIMABOT_DATENBANK__URL", datenbank_url)
    return erlebe_woche_in(datenbank_url)


def _zeitraum(woche: Woche) -> list[str]:
    heute = woche.bis.astimezone(BERLIN).date()
    return ["--seit", f"01.01.{heute.year}", "--bis", f"31.12.{heute.year}"]


def test_cli_html_ohne_ausgabe_schreibt_datei_mit_bildern_ins_verzeichnis(
    cli_woche: Woche, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jahr = cli_woche.bis.astimezone(BERLIN).year

    assert main(["bericht", *_zeitraum(cli_woche), "--format", "html"]) == 0

    datei = tmp_path / f"klimabericht-{jahr}-01-01-bis-{jahr}-12-31.html"
    ausgabe = capsys.readouterr().out
    assert f"Klimabericht-Kapitel geschrieben: {datei}" in ausgabe
    assert f"Diagramme (8): {tmp_path / datei.stem}-bilder" in ausgabe
    html = datei.read_text(encoding="utf-8")
    assert f"Zeitraum 01.01.{jahr} – 31.12.{jahr}" in html
    assert "Flächen für Windenergie – abgeschlossen am" in html


def test_cli_markdown_auf_die_standardausgabe_ohne_bilder_mit_hinweis(
    cli_woche: Woche, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bericht", *_zeitraum(cli_woche), "--format", "md"]) == 0

    ausgabe = capsys.readouterr()
    assert ausgabe.out.startswith("# Strategieprojekte der Themenfelder\n")
    assert "![" not in ausgabe.out
    assert "-o DATEI" in ausgabe.err


def test_cli_markdown_mit_ausgabe_und_ungueltiges_ziel(
    cli_woche: Woche, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bericht", "--format", "md", "-o", "bericht/kapitel.md"]) == 0
    assert (tmp_path / "bericht" / "kapitel-bilder" / "ampeln-gesamt.png").exists()
    capsys.readouterr()

    assert main(["bericht", "--format", "html", "-o", str(tmp_path)]) == 2
    assert "ist ein Verzeichnis" in capsys.readouterr().err


def test_cli_wochenbericht_als_json_in_eine_datei(
    cli_woche: Woche, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bericht", "--format", "json", "-o", "bericht.json"]) == 0
    assert '"format": "klimabot-wochenbericht"' in (tmp_path / "bericht.json").read_text(
        encoding="utf-8"
    )
    assert "Wochenbericht geschrieben" in capsys.readouterr().out
