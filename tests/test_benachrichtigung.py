"""Wer gepingt wird: Geplantes erreicht die Genannten, Antworten auf Befehle pingen niemanden.

Die Standard-Pushregeln benachrichtigen bei keinem `m.notice`, auch nicht bei Erwähnung
(gemessen gegen Synapse: tests/integration/test_benachrichtigung.py). Hier wird die Form
geprüft, die das entscheidet: `msgtype` und `m.mentions` je Art von Nachricht.
"""

from __future__ import annotations

import datetime as dt

from tests.testbot import (
    BERLIN,
    KOORDINATION_ENERGIE,
    PATIN_ENERGIE,
    RAUM_ENERGIE,
    RAUM_STABSSTELLE,
    STABSSTELLE,
    Gesendet,
    Testbot,
)

# Die zweite Koordinatorin Energie und die zweite Person der Stabsstelle der Beispielstruktur.
KOORDINATION_ENERGIE_GEBAEUDE = "@lukas.terhorst:muenster.de"
STABSSTELLE_LEITUNG = "@lena.huesing:muenster.de"


def _erwaehnt(gesendet: Gesendet) -> list[str]:
    return list(gesendet.inhalt["m.mentions"]["user_ids"])


def _stumm(gesendet: Gesendet) -> bool:
    """Pingt niemanden: ein `m.notice` (oder Bild) ohne Erwähnung."""
    return (
        gesendet.inhalt["msgtype"] in ("m.notice", "m.image")
        and not gesendet.inhalt["m.mentions"].get("user_ids")
        and "room" not in gesendet.inhalt["m.mentions"]
    )


async def test_abfragekopf_pingt_patin_und_koordination_die_zeilen_im_thread_niemanden(
    planbar: Testbot,
) -> None:
    montag = dt.datetime(2026, 11, 30, 9, 0, 30, tzinfo=BERLIN)
    kopf, *zeilen = [g for g in await planbar.planer_durchgang(montag) if g.raum_id == RAUM_ENERGIE]
    assert "Fortschrittsabfrage Themenfeld Energie" in kopf.text
    assert kopf.inhalt["msgtype"] == "m.text"
    assert sorted(_erwaehnt(kopf)) == sorted(
        [PATIN_ENERGIE, KOORDINATION_ENERGIE, KOORDINATION_ENERGIE_GEBAEUDE]
    )
    assert len(zeilen) == 4
    assert all(_stumm(z) for z in zeilen)


async def test_erinnerung_pingt_im_raum_die_zustaendigen_und_per_dm_die_patin(
    planbar: Testbot,
) -> None:
    def erinnerung(gesendet: list[Gesendet]) -> Gesendet:
        # Montags kommt auch die Abfrage mit einer Zeile zur Wärmeplanung: die ist es nicht.
        (treffer,) = [
            g
            for g in gesendet
            if g.inhalt.get("de.klimabot.projekte") == ["waermeplanung"] and "Erinnerung" in g.text
        ]
        return treffer

    stufen = [
        erinnerung(
            await planbar.planer_durchgang(dt.datetime(2026, 12, tag, 10, 0, 30, tzinfo=BERLIN))
        )
        for tag in (14, 15, 16)  # Mo–Mi, drei Wochen nach dem Anfangsstand
    ]
    im_raum, zweite, direkt = stufen
    for nachricht in (im_raum, zweite):
        assert nachricht.raum_id == RAUM_ENERGIE
        assert nachricht.inhalt["msgtype"] == "m.text"
        assert sorted(_erwaehnt(nachricht)) == sorted(
            [PATIN_ENERGIE, KOORDINATION_ENERGIE, KOORDINATION_ENERGIE_GEBAEUDE]
        )
    assert direkt.raum_id.startswith("!direkt-")
    assert direkt.inhalt["msgtype"] == "m.text"
    assert _erwaehnt(direkt) == [PATIN_ENERGIE]
    # Die Anrede ist die Erwähnung: ein Pill im HTML, der Name im Klartext.
    assert direkt.text.startswith("Guten Tag Dr. Anna Becker, zum Strategieprojekt")
    assert f'<a href="https://matrix.to/#/{PATIN_ENERGIE}">Dr. Anna Becker</a>' in direkt.html


async def test_wochenbericht_kopf_pingt_die_stabsstelle_der_thread_niemanden(
    planbar: Testbot,
) -> None:
    freitag = dt.datetime(2026, 11, 27, 14, 0, 20, tzinfo=BERLIN)
    kopf, *thread = [
        g for g in await planbar.planer_durchgang(freitag) if g.raum_id == RAUM_STABSSTELLE
    ]
    assert "Wochenbericht" in kopf.text
    assert kopf.inhalt["msgtype"] == "m.text"
    assert sorted(_erwaehnt(kopf)) == sorted([STABSSTELLE, STABSSTELLE_LEITUNG])
    assert f"https://matrix.to/#/{STABSSTELLE}" in kopf.html
    assert len(thread) == 8  # je Themenfeld eine Nachricht und das Diagramm
    assert all(_stumm(t) for t in thread)


async def test_antworten_auf_befehle_pingen_niemanden_auch_die_vorschau_des_berichts(
    planbar: Testbot,
) -> None:
    vorschau = await planbar.sende("!bericht", als=STABSSTELLE)
    kopf, *thread = vorschau.nachrichten
    assert "Wochenbericht" in kopf.text
    assert "Vorschau" in kopf.text
    assert all(_stumm(n) for n in (kopf, *thread))

    stand = await planbar.sende("!status energie", als=PATIN_ENERGIE, raum=RAUM_ENERGIE)
    assert _stumm(stand.nachricht)
