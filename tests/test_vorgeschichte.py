"""Die Vorgeschichte der Demo: zwölf Wochen Meldungen, ein Abschluss, ein überfälliges Projekt –
eingespielt über die Wege des Chats, und was die Stabsstelle danach im Wochenbericht sieht."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.app import setze_stabsstelle_raum
from bot.config import Einstellungen
from demo.vorgeschichte import (
    VERSTUMMT,
    Vorgeschichte,
    VorgeschichteFehler,
    Weg,
    plane_vorgeschichte,
    spiele_vorgeschichte_ein,
)
from modelle.basis import jetzt
from modelle.berichtsdaten import ampel_verlauf
from modelle.datenbank import Sitzungsfabrik
from modelle.strukturdatei import Struktur, lies_struktur
from modelle.tabellen import Aenderung, Person, Raum, Statusmeldung, Strategieprojekt
from modelle.termine import ist_arbeitstag
from modelle.werte import Ampel, Quelle
from modelle.zeitplan import Zeitplan
from tests.strukturen import BEISPIEL, als_text, beispiel_daten, eintrag
from tests.testbot import BERLIN, RAUM_STABSSTELLE, STABSSTELLE, Testbot

MONTAG = Zeitplan.aus_text("mo 09:00")


def _plane(ende: dt.datetime, struktur: Struktur | None = None) -> Vorgeschichte:
    return plane_vorgeschichte(
        struktur or lies_struktur(BEISPIEL), ende=ende, zeitzone=BERLIN, abfrage_vorgabe=MONTAG
    )


def _letzte_meldungen(vorgeschichte: Vorgeschichte) -> dict[str, tuple[dt.datetime, Ampel]]:
    return {m.projekt: (m.zeitpunkt, m.ampel) for m in vorgeschichte.meldungen}


# Enden über zwei Jahre, jedes zu einer anderen Uhrzeit: Zeitumstellungen, Ostern, Weihnachten.
ENDEN = [
    dt.datetime(2026, 1, 1, 0, 17, tzinfo=dt.UTC) + dt.timedelta(hours=61 * i)
    for i in range(0, 290)
]


def test_an_jedem_demotag_ist_genau_ein_projekt_ueberfaellig_und_eins_frisch_abgeschlossen() -> (
    None
):
    struktur = lies_struktur(BEISPIEL)
    fristen = {f.slug: dt.timedelta(days=f.ueberfaellig_nach_tagen) for f in struktur.themenfelder}
    frist = {p.slug: fristen[p.themenfeld] for p in struktur.projekte}
    for ende in ENDEN:
        vorgeschichte = _plane(ende, struktur)
        # Auch wer die Demo einen Tag laufen lässt, sieht nur dieses eine überfällige Projekt.
        spaeter = ende + dt.timedelta(days=1)
        ueberfaellig = {
            slug
            for slug, (zeitpunkt, ampel) in _letzte_meldungen(vorgeschichte).items()
            if ampel is not Ampel.ABGESCHLOSSEN and zeitpunkt < spaeter - frist[slug]
        }
        assert ueberfaellig == {VERSTUMMT} == set(vorgeschichte.ueberfaellig), ende
        [abschluss] = [m for m in vorgeschichte.meldungen if m.ampel is Ampel.ABGESCHLOSSEN]
        assert vorgeschichte.abgeschlossen == (abschluss.projekt,)
        assert ende - dt.timedelta(days=7) < abschluss.zeitpunkt < ende, ende
        for meldung in vorgeschichte.meldungen:
            lokal = meldung.zeitpunkt.astimezone(BERLIN)
            # Gemeldet wird an Arbeitstagen zu Bürozeiten, und nichts nach dem Ende.
            assert ist_arbeitstag(lokal.date()), meldung
            assert 8 <= lokal.hour < 16, meldung
            assert vorgeschichte.importzeit < meldung.zeitpunkt < ende


def test_die_szene_findet_energie_so_vor_dass_sie_vier_ampeln_wechselt() -> None:
    # Die Szene meldet Wärmeplanung gelb, tippt 🟢 für PV und Fernwärme, Windenergie gelb.
    for ende in ENDEN[::10]:
        letzte = _letzte_meldungen(_plane(ende))
        assert {slug: letzte[slug][1] for slug in letzte if slug in SZENE} == SZENE


SZENE = {
    "waermeplanung": Ampel.GRUEN,
    "pv-offensive": Ampel.GELB,
    "fernwaerme-dekarbonisierung": Ampel.GELB,
    "windenergie-flaechen": Ampel.ROT,
}


def test_gleiches_ende_gleiche_geschichte_auf_allen_drei_wegen() -> None:
    ende = dt.datetime(2026, 12, 5, 23, 45, tzinfo=dt.UTC)
    vorgeschichte = _plane(ende)
    assert _plane(ende) == vorgeschichte
    assert {m.weg for m in vorgeschichte.meldungen} == set(Weg)
    # Nicht jedes Projekt jede Woche: in keiner Woche melden alle 21 noch offenen Projekte.
    je_woche = [sum(1 for m in vorgeschichte.meldungen if m.woche == w) for w in range(1, 13)]
    assert max(je_woche) < 21


async def _spiele_ein(sitzungen: Sitzungsfabrik, tmp_path: Path) -> Vorgeschichte:
    datei = tmp_path / "struktur.toml"
    shutil.copy(BEISPIEL, datei)
    einstellungen = Einstellungen.model_validate({"bot": {"strukturdatei": str(datei)}})
    vorgeschichte = _plane(jetzt())
    raum_ids = {f.slug: f"!{f.slug}:muenster.de" for f in lies_struktur(BEISPIEL).themenfelder}
    await spiele_vorgeschichte_ein(vorgeschichte, einstellungen, sitzungen, raum_ids=raum_ids)
    return vorgeschichte


async def test_vorgeschichte_kommt_auf_den_wegen_des_chats_in_die_datenbank(
    sitzungen: Sitzungsfabrik, tmp_path: Path
) -> None:
    beginn = time.perf_counter()
    vorgeschichte = await _spiele_ein(sitzungen, tmp_path)
    dauer = time.perf_counter() - beginn
    # Zwölf Wochen für alle Projekte in wenigen Sekunden, nicht Minuten.
    assert dauer < 10, dauer

    async with sitzungen() as sitzung:
        protokoll = (await sitzung.scalars(select(Aenderung))).all()
        meldungen = (
            await sitzung.execute(
                select(Statusmeldung, Person.matrix_id, Strategieprojekt.slug)
                .outerjoin(Person, Person.id == Statusmeldung.autor_id)
                .join(Strategieprojekt, Strategieprojekt.id == Statusmeldung.projekt_id)
                .order_by(Statusmeldung.zeitpunkt, Statusmeldung.id)
            )
        ).all()
    # Der Import steht zurückdatiert im Änderungsprotokoll, wie ihn der Bot beim Start schreibt.
    assert {(a.zeitpunkt, a.wer) for a in protokoll} == {
        (vorgeschichte.importzeit, "klimabot run (struktur.toml)")
    }
    anfangsstaende = [m for m, _autor, _slug in meldungen if m.quelle == Quelle.IMPORT]
    assert len(anfangsstaende) == 15
    assert {m.zeitpunkt for m in anfangsstaende} == {vorgeschichte.importzeit}

    # Jede Meldung der Vorgeschichte kam mit Autor*in, Raum und Quelle ihres Wegs an.
    quelle = {Weg.BEFEHL: Quelle.BEFEHL, Weg.ANTWORT: Quelle.ANTWORT, Weg.TIPP: Quelle.REAKTION}
    gespeichert = [
        (m.zeitpunkt, autor, slug, m.quelle, m.raum_id)
        for m, autor, slug in meldungen
        if m.quelle != Quelle.IMPORT
    ]
    assert sorted(gespeichert) == sorted(
        (
            g.zeitpunkt,
            g.absender,
            g.projekt,
            quelle[g.weg],
            f"!{g.themenfeld}:muenster.de",
        )
        for g in vorgeschichte.meldungen
    )
    # Die Wege haben gelesen und ergänzt wie im Chat: der Tipp übernimmt den Stand und heißt
    # „unverändert“, der Text trennt sich an „Herausforderung:“.
    tipps = [m for m, _a, _s in meldungen if m.quelle == Quelle.REAKTION]
    assert tipps
    assert {m.text for m in tipps} == {"unverändert"}
    [abschluss] = [m for m, _a, slug in meldungen if slug == "klimaanpassungskonzept" and
                   m.ampel == Ampel.ABGESCHLOSSEN]  # fmt: skip
    assert (abschluss.fortschritt, abschluss.text) == (
        100,
        "Rat hat die Fortschreibung beschlossen",
    )
    lieferengpass = next(
        m for m, _a, _s in meldungen if m.text == "Lieferengpass bei Wechselrichtern"
    )
    assert lieferengpass.herausforderungen == "Wechselrichter erst in acht Wochen lieferbar"
    assert all(m.event_id is None for m, _a, _s in meldungen)


async def test_wochenbericht_nach_der_vorgeschichte_zeigt_wechsel_abschluss_und_ueberfaelliges(
    sitzungen: Sitzungsfabrik, tmp_path: Path
) -> None:
    await _spiele_ein(sitzungen, tmp_path)
    await setze_stabsstelle_raum(RAUM_STABSSTELLE, sitzungen)
    async with sitzungen.begin() as sitzung:
        await sitzung.execute(
            update(Raum).where(Raum.ist_stabsstelle).values(raum_id=RAUM_STABSSTELLE)
        )
    testbot = Testbot(sitzungen)

    bericht = await testbot.sende("!bericht", als=STABSSTELLE)

    kopf = bericht.nachrichten[0].text
    treffer = re.search(
        r"(\d+) Ampelwechsel · 1 Projekt überfällig · 1 Projekt abgeschlossen", kopf
    )
    assert treffer, kopf
    assert int(treffer[1]) >= 3
    assert "neue" not in kopf
    thread = "\n".join(n.text for n in bericht.nachrichten[1:])
    assert re.search(r"Überfällig.*\n+• \*Klimaresiliente Stadtbäume\* \(stadtbaeume\)", thread)
    assert re.search(
        r"Abgeschlossen\*\n+• ✅ \*Fortschreibung des Klimaanpassungskonzepts\*", thread
    )
    assert "🟡 gelb → 🟢 grün *Radvorrangrouten ins Umland*" in thread


async def test_diagramm_der_letzten_zwoelf_wochen_zeigt_bewegung(
    sitzungen: Sitzungsfabrik, tmp_path: Path
) -> None:
    await _spiele_ein(sitzungen, tmp_path)

    async with sitzungen() as sitzung:
        verlauf = await ampel_verlauf(sitzung, bis=jetzt(), zeitzone=BERLIN)

    # Kein Feld steht zwölf Wochen gleich da, und nach der ersten Woche ist jedes Projekt gemeldet.
    for feld in verlauf.felder:
        staende = {(*z.ampeln.values(), z.ohne_meldung) for z in feld.zaehlungen}
        assert len(staende) > 1, feld
        assert all(z.ohne_meldung == 0 for z in feld.zaehlungen), feld


@pytest.mark.parametrize("fehlt", ["stadtbaeume", "waermeplanung"])
def test_passt_die_struktur_nicht_zum_drehbuch_sagt_die_vorgeschichte_was_fehlt(
    fehlt: str,
) -> None:
    struktur = lies_struktur(BEISPIEL)
    ohne = Struktur(
        struktur.themenfelder,
        struktur.personen,
        tuple(p for p in struktur.projekte if p.slug != fehlt),
    )
    with pytest.raises(ValueError, match=fehlt):
        _plane(jetzt(), ohne)


async def test_darf_jemand_laut_datei_nicht_melden_bricht_das_einspielen_mit_grund_ab(
    sitzungen: Sitzungsfabrik, tmp_path: Path
) -> None:
    # Der Plan kennt Fatma Yılmaz als Koordinatorin für Energie, die Datei nicht mehr: Ihre
    # Meldungen weist der Bot ab wie im Chat, statt sie still zu speichern.
    daten = beispiel_daten()
    eintrag(daten, "person", "@fatma.yilmaz:muenster.de")["koordination"] = []
    datei = tmp_path / "struktur.toml"
    datei.write_text(als_text(daten), encoding="utf-8")
    einstellungen = Einstellungen.model_validate({"bot": {"strukturdatei": str(datei)}})

    with pytest.raises(VorgeschichteFehler, match=r"von @fatma\.yilmaz:muenster\.de abgelehnt"):
        await spiele_vorgeschichte_ein(_plane(jetzt()), einstellungen, sitzungen)
