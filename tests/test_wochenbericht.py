"""Der Wochenbericht: was die Stabsstelle am Freitag liest, und was die Kommandozeile ausgibt."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from befehle import schreibweise
from befehle.berichtsausgabe import (
    als_json,
    als_text,
    feldnachrichten,
    kopf,
    zustellnachricht,
)
from befehle.diagramm import Zeichenauftrag, ampel_diagramm, zeichne
from bot.cli import main
from bot.zusteller import HOECHSTENS_VERSUCHE
from demo.bestand import erzeuge_bestand
from modelle.berichtsdaten import (
    Ampelverlauf,
    Feldbericht,
    Wochenbericht,
    ampel_verlauf,
    stelle_wochenbericht_zusammen,
    strukturaenderungen,
)
from modelle.datenbank import Sitzungsfabrik, erzeuge_sitzungsfabrik
from modelle.tabellen import Ausgang, Raum, Themenfeld
from modelle.wechsel import Projektaenderung, Projektereignis
from modelle.werte import Ampel
from tests import daten
from tests.anweisungen import mitgeschrieben
from tests.testbot import KOORDINATION_ENERGIE, RAUM_ENERGIE, STABSSTELLE, Testbot
from tests.woche import ANNA, Woche, erlebe_woche, erlebe_woche_in

BERLIN = ZoneInfo("Europe/Berlin")


async def _bericht(sitzungen: Sitzungsfabrik, woche: Woche) -> Wochenbericht:
    async with sitzungen() as sitzung:
        return await stelle_wochenbericht_zusammen(
            sitzung,
            von=woche.von,
            bis=woche.bis,
            uebersprungene_abfragen=[("energie", woche.ausgelassen), ("gebaeude", woche.von)],
        )


def _felder(bericht: Wochenbericht) -> dict[str, Feldbericht]:
    return {f.themenfeld_slug: f for f in bericht.felder}


# --- Was im Bericht steht -----------------------------------------------------------------


async def test_woche_mit_aenderungen_ergibt_genau_diese_zeilen(sitzungen: Sitzungsfabrik) -> None:
    woche = await erlebe_woche(sitzungen)
    bericht = await _bericht(sitzungen, woche)
    felder = _felder(bericht)
    assert list(felder) == ["energie", "mobilitaet", "klimaanpassung"]

    energie = felder["energie"]
    assert dict(energie.ampeln) == {
        Ampel.GRUEN: 3,  # PV, Speicher, Nahwärme; Geothermie ist archiviert
        Ampel.GELB: 1,
        Ampel.ROT: 0,  # die rote Meldung zu PV ist zurückgezogen
        Ampel.ABGESCHLOSSEN: 1,
    }
    assert [(w.projekt_slug, w.alt, w.neu, w.autor, w.text) for w in energie.wechsel] == [
        (
            "waermeplanung",
            Ampel.GRUEN,
            Ampel.GELB,
            "Dr. Anna Becker",
            "Ausschreibung verzögert sich",
        ),
        ("windenergie", Ampel.ROT, Ampel.ABGESCHLOSSEN, "Dr. Anna Becker", "Flächen ausgewiesen"),
    ]
    assert [w.projekt_slug for w in energie.abgeschlossen] == ["windenergie"]
    assert [(p.projekt_slug, p.herausforderungen) for p in energie.rot_gelb] == [
        ("waermeplanung", "Vergabe <b>dauert</b>")
    ]
    assert [(p.projekt_slug, p.tage_ohne_meldung) for p in energie.ueberfaellig] == [
        ("speicher", 60)
    ]
    assert [(p.projekt_slug, p.ampel, p.wer) for p in energie.neu] == [
        ("nahwaerme", Ampel.GRUEN, "Kai")
    ]
    assert [p.projekt_slug for p in energie.archiviert] == ["geothermie"]
    assert energie.uebersprungene_abfragen == (woche.ausgelassen,)

    mobilitaet = felder["mobilitaet"]
    assert mobilitaet.ohne_meldung == 1
    # Neu und noch ohne Meldung, aber jünger als die Frist: nicht überfällig.
    assert [(p.projekt_slug, p.ampel) for p in mobilitaet.neu] == [("lastenrad", None)]
    assert (mobilitaet.wechsel, mobilitaet.rot_gelb, mobilitaet.ueberfaellig) == ((), (), ())

    ruhig = felder["klimaanpassung"]
    assert ruhig.projektslugs == ()
    assert dict(ruhig.ampeln)[Ampel.GRUEN] == 1

    assert bericht.ampeln == {Ampel.GRUEN: 5, Ampel.GELB: 1, Ampel.ROT: 0, Ampel.ABGESCHLOSSEN: 1}
    assert (bericht.anzahl_wechsel, bericht.anzahl_ueberfaellig) == (2, 1)
    assert [u.themenfeld_slug for u in bericht.uebersprungene_abfragen] == ["gebaeude", "energie"]


async def test_bericht_ueber_vergangene_woche_zeigt_den_damaligen_stand(
    sitzungen: Sitzungsfabrik,
) -> None:
    woche = await erlebe_woche(sitzungen)
    vorher = woche.von - dt.timedelta(days=7)
    async with sitzungen() as sitzung:
        bericht = await stelle_wochenbericht_zusammen(sitzung, von=vorher, bis=woche.von)
    energie = _felder(bericht)["energie"]
    # Damals stand die Wärmeplanung noch auf grün, die Windenergie auf rot.
    assert dict(energie.ampeln)[Ampel.GELB] == 0
    assert [p.projekt_slug for p in energie.rot_gelb] == ["windenergie"]
    assert (energie.wechsel, energie.neu, energie.archiviert) == ((), (), ())


async def test_bericht_braucht_feste_zahl_von_abfragen(
    sitzungen: Sitzungsfabrik, engine: AsyncEngine
) -> None:
    woche = await erlebe_woche(sitzungen)
    with mitgeschrieben(engine) as mitschrift:
        anweisungen = mitschrift.gesendet
        await _bericht(sitzungen, woche)
        bericht_anweisungen = len(anweisungen)
        async with sitzungen() as sitzung:
            await ampel_verlauf(sitzung, bis=woche.bis, zeitzone=BERLIN)
    assert bericht_anweisungen == 5, anweisungen
    assert len(anweisungen) == 5 + 2, anweisungen


# --- Nicht zugestellt ----------------------------------------------------------------------


async def _aufgegeben(
    sitzungen: Sitzungsfabrik,
    raum_id: str,
    inhalt: dict[str, Any],
    aufgegeben_am: dt.datetime,
    *,
    typ: str = "m.room.message",
) -> None:
    async with sitzungen.begin() as sitzung:
        sitzung.add(
            Ausgang(
                txn_id=f"klimabot-{raum_id}-{aufgegeben_am.timestamp()}",
                raum_id=raum_id,
                ereignistyp=typ,
                inhalt=inhalt,
                erstellt=aufgegeben_am - dt.timedelta(minutes=1),
                versuche=8,
                letzter_fehler="M_FORBIDDEN: User not in room",
                aufgegeben_am=aufgegeben_am,
            )
        )


async def test_nicht_zugestellte_nachrichten_stehen_in_jeder_form_des_berichts(
    sitzungen: Sitzungsfabrik,
) -> None:
    woche = await erlebe_woche(sitzungen)
    async with sitzungen.begin() as sitzung:
        energie = await sitzung.scalar(select(Themenfeld.id).where(Themenfeld.slug == "energie"))
        sitzung.add(Raum(adresse="!energie:muenster.de", raum_id="!energie:muenster.de",
                         themenfeld_id=energie))  # fmt: skip
    tag = woche.von + dt.timedelta(days=1)
    await _aufgegeben(sitzungen, "!energie:muenster.de", {"body": "📋 Abfrage Energie\nZeile"}, tag)
    await _aufgegeben(sitzungen, f"direkt:{ANNA}", {"body": "⏰ Erinnerung " + "x" * 100}, tag)
    reaktion = {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$e", "key": "✅"}}
    await _aufgegeben(sitzungen, "!fremd:muenster.de", reaktion, tag, typ="m.reaction")
    # Vor dem Zeitraum aufgegeben: das stand schon im letzten Bericht.
    await _aufgegeben(sitzungen, "!fremd:muenster.de", {"body": "alt"}, woche.von)

    bericht = await _bericht(sitzungen, woche)
    assert [(n.themenfeld_slug, n.person, n.raum_id, n.art) for n in bericht.nicht_zugestellt] == [
        ("energie", None, "!energie:muenster.de", "nachricht"),
        (None, ANNA, None, "nachricht"),
        (None, None, "!fremd:muenster.de", "reaktion"),
    ]
    assert kopf(bericht, BERLIN).text.endswith(" · 3 Nachrichten nicht zugestellt")

    nachricht = zustellnachricht(bericht, BERLIN)
    assert nachricht is not None
    zeilen = nachricht.text.splitlines()
    assert "Nicht zugestellte Nachrichten" in zeilen[0]
    assert "bitte den bot in den raum einladen" in nachricht.text.lower()
    assert "Raum des Themenfelds Energie: „📋 Abfrage Energie“ – erstellt" in nachricht.text
    assert "(M_FORBIDDEN: User not in room)" in nachricht.text
    assert f"Direktnachricht an `{ANNA}`: „⏰ Erinnerung xxx" in nachricht.text
    assert "x" * 80 not in nachricht.text  # der Auszug ist gekürzt
    assert "Raum `!fremd:muenster.de`: Reaktion ✅" in nachricht.text
    assert "alt" not in nachricht.text.split("Strukturdatei prüfen.")[1]

    daten_ = json.loads(als_json(bericht, BERLIN))
    assert daten_["gesamt"]["nicht_zugestellt"] == 3
    erster = daten_["nicht_zugestellt"][0]
    assert erster == {
        "raum": "!energie:muenster.de",
        "themenfeld": "energie",
        "stabsstelle": False,
        "person": None,
        "art": "nachricht",
        "auszug": "📋 Abfrage Energie",
        "erstellt": erster["erstellt"],
        "aufgegeben": erster["aufgegeben"],
        "fehler": "M_FORBIDDEN: User not in room",
    }
    assert dt.datetime.fromisoformat(erster["aufgegeben"]) == tag.replace(microsecond=0)
    assert daten_["nicht_zugestellt"][1]["person"] == ANNA
    assert "Raum des Themenfelds Energie" in als_text(bericht, BERLIN)


async def test_naechster_wochenbericht_nennt_die_aufgegebene_antwort(testbot: Testbot) -> None:
    testbot.rekorder.ohne_bot.add(RAUM_ENERGIE)
    await testbot.sende("!status energie", als=KOORDINATION_ENERGIE, raum=RAUM_ENERGIE)
    for _ in range(HOECHSTENS_VERSUCHE - 1):
        await testbot.zusteller.zustellen()
    assert not testbot.rekorder.gesendet

    bericht = await testbot.sende("!bericht", als=STABSSTELLE)
    assert "1 Nachricht nicht zugestellt" in bericht.nachrichten[0].text
    (zustellung,) = [n for n in bericht.nachrichten if "Nicht zugestellte" in n.text]
    # Der Testbot nimmt Raumadressen als Raum-IDs; im Betrieb stünde hier der Name des Felds.
    assert f"Raum `{RAUM_ENERGIE}`: „*Themenfeld Energie* – 4 Projekte“" in zustellung.text
    assert "(M_FORBIDDEN: " in zustellung.text


# --- Wie es aussieht ------------------------------------------------------------------------


async def test_kopf_nennt_zeitraum_ampeln_wechsel_und_ueberfaellige(
    sitzungen: Sitzungsfabrik,
) -> None:
    woche = await erlebe_woche(sitzungen)
    bericht = await _bericht(sitzungen, woche)
    von = schreibweise.datum(woche.von, BERLIN)
    bis = schreibweise.datum(woche.bis, BERLIN)
    assert kopf(bericht, BERLIN).text == (
        f"*📊 Wochenbericht {von} – {bis}*\n\n"
        "🟢 5 grün · 🟡 1 gelb · 🔴 0 rot · ✅ 1 abgeschlossen · ⚪ 1 ohne Meldung "
        "(8 Projekte in 3 Themenfeldern)\n"
        "1 Ampelwechsel · 1 Projekt überfällig · 2 neue Projekte · 1 Projekt abgeschlossen · "
        "1 Projekt archiviert · 2 Abfragen ausgelassen"
    )


async def test_feldnachricht_klartext_lesbar_html_maskiert(sitzungen: Sitzungsfabrik) -> None:
    woche = await erlebe_woche(sitzungen)
    bericht = await _bericht(sitzungen, woche)
    nachrichten = feldnachrichten(bericht, BERLIN)
    assert len(nachrichten) == 3
    energie, slugs = nachrichten[0]
    tag = {n: schreibweise.datum(woche.von + dt.timedelta(days=n), BERLIN) for n in range(8)}
    heute = schreibweise.datum(dt.datetime.now(dt.UTC), BERLIN)
    vor_60 = schreibweise.datum(woche.von - dt.timedelta(days=53), BERLIN)
    ausgelassen = schreibweise.zeitpunkt(woche.ausgelassen, BERLIN)
    assert energie.text == (
        "*Themenfeld Energie* · 🟢 3 · 🟡 1 · 🔴 0 · ✅ 1 (5 Projekte)\n\n"
        "*Ampelwechsel*\n\n"
        "• 🟢 grün → 🟡 gelb *Kommunale Wärmeplanung* (waermeplanung) · "
        f"Dr. Anna Becker, {tag[2]}: „Ausschreibung verzögert sich“\n\n"
        "*Abgeschlossen*\n\n"
        f"• ✅ *Flächen für Windenergie* (windenergie) – Dr. Anna Becker, {tag[3]}: "
        "„Flächen ausgewiesen“\n\n"
        "*Rot und gelb*\n\n"
        "• 🟡 gelb *Kommunale Wärmeplanung* (waermeplanung) · 40 % · "
        f"Meldung vom {tag[2]} · Herausforderung: Vergabe <b>dauert</b>\n\n"
        "*Überfällig (länger als 14 Tage ohne Meldung)*\n\n"
        f"• *Quartiersspeicher* (speicher) · letzte Meldung {vor_60}, vor 60 Tagen (🟢 grün)\n\n"
        "*Neue Projekte*\n\n"
        f"• 🟢 grün *Nahwärmenetze* (nahwaerme) – angelegt am {heute} von Kai\n\n"
        "*Archiviert*\n\n"
        f"• *Tiefe Geothermie* (geothermie) – archiviert am {heute} von Kai\n\n"
        "*Ausgelassene Abfragen*\n\n"
        f"• Abfrage vom {ausgelassen} – der Klimabot war zu lange nicht erreichbar, "
        "sie wurde nicht nachgeholt"
    )
    assert "Vergabe &lt;b&gt;dauert&lt;/b&gt;" in energie.html
    assert "<b>" not in energie.html
    assert energie.html.count("<table>") == 3  # Wechsel, rot/gelb, überfällig
    assert "<th>Herausforderung</th>" in energie.html
    assert slugs == ("waermeplanung", "windenergie", "speicher", "nahwaerme", "geothermie")

    mobilitaet, slugs = nachrichten[1]
    assert "_Keine Ampelwechsel im Berichtszeitraum._" in mobilitaet.text
    assert "⚪ ohne Meldung *Lastenradverleih* (lastenrad) – angelegt am" in mobilitaet.text
    assert slugs == ("lastenrad",)

    ruhig, slugs = nachrichten[2]
    assert ruhig.text == (
        "*Themenfeld Klimaanpassung* · 🟢 1 · 🟡 0 · 🔴 0 · ✅ 0 (1 Projekt)\n\n"
        "_Nichts zu berichten: keine Ampelwechsel, nichts rot, gelb oder überfällig._"
    )
    assert slugs == ()


async def test_json_hat_die_dokumentierten_schluessel(sitzungen: Sitzungsfabrik) -> None:
    woche = await erlebe_woche(sitzungen)
    daten_ = json.loads(als_json(await _bericht(sitzungen, woche), BERLIN))
    assert daten_["format"] == "klimabot-wochenbericht"
    assert daten_["version"] == 1
    assert set(daten_) == {"format", "version", "von", "bis", "gesamt", "themenfelder",
                           "uebersprungene_abfragen", "nicht_zugestellt"}  # fmt: skip
    assert dt.datetime.fromisoformat(daten_["von"]).utcoffset() in (
        dt.timedelta(hours=1),
        dt.timedelta(hours=2),
    )
    assert daten_["gesamt"] == {
        "themenfelder": 3,
        "projekte": 8,
        "ampeln": {"gruen": 5, "gelb": 1, "rot": 0, "abgeschlossen": 1},
        "ohne_meldung": 1,
        "wechsel": 2,
        "ueberfaellig": 1,
        "neu": 2,
        "archiviert": 1,
        "abgeschlossen": 1,
        "uebersprungene_abfragen": 2,
        "nicht_zugestellt": 0,
    }
    energie = daten_["themenfelder"][0]
    assert set(energie) == {
        "slug", "name", "ueberfaellig_nach_tagen", "projekte", "ampeln", "ohne_meldung",
        "wechsel", "rot_gelb", "ueberfaellig", "neu", "archiviert", "abgeschlossen",
        "uebersprungene_abfragen",
    }  # fmt: skip
    wechsel = energie["wechsel"][0]
    assert set(wechsel) == {
        "projekt", "titel", "alt", "neu", "zeitpunkt", "autor", "text", "archiviert",
    }  # fmt: skip
    assert wechsel["alt"] == {"wert": "gruen", "wort": "grün"}
    assert wechsel["neu"] == {"wert": "gelb", "wort": "gelb"}
    assert energie["rot_gelb"][0]["herausforderungen"] == "Vergabe <b>dauert</b>"
    assert set(energie["rot_gelb"][0]) == {
        "projekt", "titel", "ampel", "fortschritt", "herausforderungen", "text", "zeitpunkt",
        "autor",
    }  # fmt: skip
    assert energie["ueberfaellig"][0]["tage_ohne_meldung"] == 60
    assert set(energie["ueberfaellig"][0]) == {
        "projekt", "titel", "letzte_meldung", "letzte_ampel", "tage_ohne_meldung",
    }  # fmt: skip
    assert energie["neu"][0] == {
        "projekt": "nahwaerme",
        "titel": "Nahwärmenetze",
        "zeitpunkt": energie["neu"][0]["zeitpunkt"],
        "wer": "Kai",
        "ampel": {"wert": "gruen", "wort": "grün"},
        "wieder_aktiviert": False,
    }
    assert [a["projekt"] for a in energie["abgeschlossen"]] == ["windenergie"]
    assert daten_["uebersprungene_abfragen"][1]["themenfeld"] == "energie"


async def test_text_ist_kopf_und_alle_felder(sitzungen: Sitzungsfabrik) -> None:
    woche = await erlebe_woche(sitzungen)
    bericht = await _bericht(sitzungen, woche)
    text = als_text(bericht, BERLIN)
    assert text.startswith(kopf(bericht, BERLIN).text)
    for nachricht, _ in feldnachrichten(bericht, BERLIN):
        assert nachricht.text in text


def _aenderung(
    projekt_id: int, ereignis: Projektereignis, stunde: int, feld: int = 1
) -> Projektaenderung:
    return Projektaenderung(
        projekt_id=projekt_id,
        projekt_slug=f"p{projekt_id}",
        projekt_titel=f"Projekt {projekt_id}",
        themenfeld_id=feld,
        themenfeld_slug="feld",
        ereignis=ereignis,
        zeitpunkt=dt.datetime(2026, 11, 20, stunde, tzinfo=dt.UTC),
        wer="Kai",
    )


def test_archiviert_und_wieder_aktiviert_in_derselben_woche_ist_keine_aenderung() -> None:
    archiviert, wieder = Projektereignis.ARCHIVIERT, Projektereignis.WIEDER_AKTIVIERT
    neu, weg = strukturaenderungen(
        [
            _aenderung(1, archiviert, 8),
            _aenderung(1, wieder, 9),
            _aenderung(2, wieder, 10),
            _aenderung(3, Projektereignis.ANGELEGT, 11),
            _aenderung(3, archiviert, 12),
            _aenderung(4, archiviert, 13),
        ],
        {2: Ampel.GELB},
    )
    assert [(s.projekt_slug, s.wieder_aktiviert, s.ampel) for s in neu[1]] == [
        ("p2", True, Ampel.GELB),
        ("p3", False, None),
    ]
    assert [s.projekt_slug for s in weg[1]] == ["p3", "p4"]


# --- Ampelverlauf und Diagramm --------------------------------------------------------------


async def test_ampelverlauf_stimmt_mit_nachgerechnetem_ueberein(engine: AsyncEngine) -> None:
    bestand = erzeuge_bestand(7, felder=3, projekte_je_feld=6, wochen=30)
    async with engine.begin() as verbindung:
        await bestand.einfuegen(verbindung)
    erwartung = daten.Erwartung(bestand)
    # Über die Umstellung auf Sommerzeit am 26. März 2023 hinweg.
    bis = dt.datetime(2023, 4, 14, 14, 0, tzinfo=BERLIN)
    async with erzeuge_sitzungsfabrik(engine)() as sitzung:
        verlauf = await ampel_verlauf(sitzung, bis=bis, wochen=12, zeitzone=BERLIN)

    assert len(verlauf.stichtage) == 12
    assert {(s.weekday(), s.hour, s.minute) for s in verlauf.stichtage} == {(4, 14, 0)}
    assert verlauf.stichtage[-1] == bis
    aktive_felder = erwartung.feld_uebersicht()
    assert [f.themenfeld_slug for f in verlauf.felder] == [f.themenfeld_slug for f in aktive_felder]
    for feld, feldverlauf in zip(aktive_felder, verlauf.felder, strict=True):
        projekte = [p.projekt_id for p in erwartung.letzte_meldungen(feld.themenfeld_id)]
        for stichtag, zaehlung in zip(verlauf.stichtage, feldverlauf.zaehlungen, strict=True):
            staende = [erwartung.neueste(p, stichtag) for p in projekte]
            erwartet = {a: sum(1 for m in staende if m and m.ampel is a) for a in Ampel}
            assert dict(zaehlung.ampeln) == erwartet, (feld.themenfeld_slug, stichtag)
            assert zaehlung.ohne_meldung == sum(1 for m in staende if m is None)


async def test_diagramm_ist_ein_lesbares_png(sitzungen: Sitzungsfabrik) -> None:
    woche = await erlebe_woche(sitzungen)
    async with sitzungen() as sitzung:
        verlauf = await ampel_verlauf(sitzung, bis=woche.bis, zeitzone=BERLIN)
    png = ampel_diagramm(verlauf)  # im Zeichenprozess
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert 10_000 < len(png) < 200_000
    # Keine Zeitstempel in den Metadaten: hier gezeichnet dieselben Bytes wie im Kind.
    assert zeichne(Zeichenauftrag.aus_verlauf(verlauf)) == png
    assert b"Software" not in png


def test_diagramm_ohne_themenfelder() -> None:
    stichtage = (dt.datetime(2026, 11, 20, 14, tzinfo=BERLIN),)
    auftrag = Zeichenauftrag.aus_verlauf(Ampelverlauf(stichtage, ()))
    assert zeichne(auftrag).startswith(b"\x89PNG")


# --- Kommandozeile ------------------------------------------------------------------------


@pytest.fixture
def cli_umgebung(datenbank_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Woche:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KLIMABOT_DATENBANK__URL", datenbank_url)
    return erlebe_woche_in(datenbank_url)


@pytest.mark.parametrize("ausgabe", ["text", "json"])
def test_cli_bericht_als_text_und_json(
    cli_umgebung: Woche, ausgabe: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bericht", "--format", ausgabe]) == 0
    text = capsys.readouterr().out
    if ausgabe == "json":
        assert json.loads(text)["gesamt"]["wechsel"] == 2
    else:
        assert "Wochenbericht" in text
        assert "Kommunale Wärmeplanung" in text


def test_cli_bericht_mit_deutschem_und_iso_datum(
    cli_umgebung: Woche, capsys: pytest.CaptureFixture[str]
) -> None:
    anfang = (cli_umgebung.von - dt.timedelta(days=400)).astimezone(BERLIN).date()
    ende = anfang + dt.timedelta(days=6)
    argumente = ["bericht", "--seit", anfang.strftime("%d.%m.%Y"), "--bis", ende.isoformat()]
    assert main([*argumente, "--format", "json"]) == 0
    bericht = json.loads(capsys.readouterr().out)
    assert bericht["von"].startswith(anfang.isoformat())
    # --bis schließt den ganzen Tag ein: Ende ist der Beginn des Folgetags.
    assert bericht["bis"].startswith((ende + dt.timedelta(days=1)).isoformat())
    # Damals gab es noch keine einzige Meldung.
    assert bericht["gesamt"]["ohne_meldung"] == bericht["gesamt"]["projekte"] == 8


@pytest.mark.parametrize(
    ("argumente", "grund"),
    [
        (["--seit", "31.02.2026"], "den 31.02.2026 gibt es nicht"),
        (["--seit", "2026/11/20"], "kein Datum; erwartet TT.MM.JJJJ oder JJJJ-MM-TT"),
        (["--bis", "morgen"], "--bis: „morgen“ ist kein Datum"),
        (["--seit", "20.11.2026", "--bis", "19.11.2026"], "liegt nicht vor dem Ende"),
    ],
)
def test_cli_bericht_ungueltiges_datum_endet_mit_code_2(
    argumente: list[str],
    grund: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["bericht", *argumente]) == 2
    assert grund in capsys.readouterr().err
