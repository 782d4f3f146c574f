"""Gegen echten Synapse: Wen Abfrage, Erinnerung und Befehlsantworten benachrichtigen.

Gelesen wird, was der Homeserver jeder Person gemeldet hat (`GET /notifications`): Dort
entscheiden ihre Standard-Pushregeln, ob ihr Telefon klingelt. Ein Ping ist eine Meldung mit
`highlight` – so behandeln Clients eine Erwähnung (hervorgehoben, mit Ton). Jede Nachricht
`m.text` zählt in einem Raum für alle Mitglieder als ungelesen; pingen darf sie nur die Genannten.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from demo.mensch import Mensch, Rohereignis
from modelle.tabellen import Themenfeld
from modelle.termine import naechster_arbeitstag
from tests.integration.umgebung import Umgebung

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
async def klartext_umgebung(umgebung: Umgebung) -> Umgebung:
    """Wie `umgebung`, aber der Bot verschlüsselt nicht, auch seinen Direktraum nicht.

    In einem verschlüsselten Raum sieht Synapse weder `msgtype` noch `m.mentions` und meldet
    jede Nachricht; dort wendet erst der Client dieselben Pushregeln auf den entschlüsselten
    Inhalt an. Im Klartext wertet sie der Server aus, und der Test kann es ablesen.
    """
    await umgebung.stoppe_bot()
    konfiguration = umgebung.config.read_text(encoding="utf-8")
    umgebung.config.write_text(
        konfiguration.replace("[matrix]\n", "[matrix]\nverschluesselung = false\n", 1),
        encoding="utf-8",
    )
    await umgebung.starte_bot()
    return umgebung


async def _plane(umgebung: Umgebung, tag: dt.date, uhrzeit: dt.time) -> None:
    """Ein Durchgang des Planers zur gestellten Uhrzeit; gesendet wird vom laufenden Bot."""
    await umgebung.planer(dt.datetime.combine(tag, uhrzeit, tzinfo=BERLIN)).pruefe()


async def _vom_bot_gemeldet(umgebung: Umgebung, mensch: Mensch, raum: str) -> dict[str, bool]:
    """Je Ereignis des Bots in `raum`, das dieser Person gemeldet wurde: ob es sie pingt."""

    def pingt(meldung: Rohereignis) -> bool:
        return any(
            isinstance(aktion, dict)
            and aktion.get("set_tweak") == "highlight"
            and aktion.get("value", True)
            for aktion in meldung["actions"]
        )

    return {
        str(meldung["event"]["event_id"]): pingt(meldung)
        for meldung in await mensch.benachrichtigungen()
        if meldung["room_id"] == raum and meldung["event"]["sender"] == umgebung.bot_id
    }


def _bot_nachrichten(umgebung: Umgebung, mensch: Mensch, raum: str) -> list[str]:
    return [str(e["event_id"]) for e in mensch.nachrichten_von(umgebung.bot_id, raum)]


async def test_abfrage_pingt_patin_und_koordination_sonst_niemanden_befehlsantwort_niemanden(
    umgebung: Umgebung,
) -> None:
    assert umgebung.bot is not None
    energie = umgebung.raum_energie
    async with umgebung.bot.sitzungen.begin() as sitzung:
        await sitzung.execute(
            update(Themenfeld).where(Themenfeld.slug == "energie").values(abfrage="täglich 09:00")
        )
    morgen = naechster_arbeitstag(dt.datetime.now(BERLIN).date() + dt.timedelta(days=1))
    await _plane(umgebung, morgen, dt.time(9, 0, 30))
    patin = umgebung.patin
    kopf = await patin.warte_auf(
        lambda r, e: r == energie and "Fortschrittsabfrage" in str(e.get("content"))
    )
    await patin.warte_auf(lambda r, e: r == energie and "(pv-offensive)" in str(e.get("content")))
    befehl = await patin.sende(energie, "!status energie")
    antwort = await patin.antwort_auf(befehl, von=umgebung.bot_id)
    # Kopf, zwei Zeilen im Thread, die Antwort auf den Befehl: alles ist beim Server.
    assert len(_bot_nachrichten(umgebung, patin, energie)) == 4

    genannt = {"Pat*in": patin, "Koordinator*in": umgebung.koordination}
    andere = {"Außenstehende*r": umgebung.aussen, "Pat*in Mobilität": umgebung.patin_mobilitaet}
    for wer, mensch in genannt.items():
        # Nur der Kopf, und der pingt: Zeilen im Thread und die Befehlsantwort melden nichts.
        assert await _vom_bot_gemeldet(umgebung, mensch, energie) == {kopf["event_id"]: True}, wer
    for wer, mensch in andere.items():
        gemeldet = await _vom_bot_gemeldet(umgebung, mensch, energie)
        assert not any(gemeldet.values()), wer  # niemand sonst wird gepingt
        assert antwort["event_id"] not in gemeldet, wer


async def test_erinnerung_per_direktnachricht_pingt_die_patin_befehlsantwort_dort_nicht(
    klartext_umgebung: Umgebung,
) -> None:
    umgebung = klartext_umgebung
    patin = umgebung.patin
    # Überfällig nach 14 Tagen ab dem Import eben: zwei Erinnerungen im Raum, dann direkt.
    erster = naechster_arbeitstag(dt.datetime.now(BERLIN).date() + dt.timedelta(days=15))
    zweiter = naechster_arbeitstag(erster + dt.timedelta(days=1))
    dritter = naechster_arbeitstag(zweiter + dt.timedelta(days=1))
    for tag in (erster, zweiter, dritter):
        await _plane(umgebung, tag, dt.time(10, 0, 30))
    direkt = await patin.nimm_einladung_an(von=umgebung.bot_id)
    # Die dritte Stufe kam für beide überfälligen Projekte; der Zusteller sendet je Raum für
    # sich, sie können also nach der Einladung eintreffen: erst beide abwarten.
    await patin.warte_auf(lambda _r, _e: len(_bot_nachrichten(umgebung, patin, direkt)) >= 2)
    schon_da = set(_bot_nachrichten(umgebung, patin, direkt))

    # Eine Woche später die nächste Direktnachricht: nun ist die Pat*in im Raum.
    await _plane(umgebung, naechster_arbeitstag(dritter + dt.timedelta(days=7)), dt.time(10, 0, 30))
    erinnerung = await patin.warte_auf(
        lambda r, e: (
            r == direkt
            and e.get("sender") == umgebung.bot_id
            and e["event_id"] not in schon_da
            and "Guten Tag" in str(e.get("content"))
        )
    )
    befehl = await patin.sende(direkt, "!status energie")
    antwort = await patin.antwort_auf(befehl, von=umgebung.bot_id)

    gemeldet = await _vom_bot_gemeldet(umgebung, patin, direkt)
    assert gemeldet.get(erinnerung["event_id"]) is True
    # Im Direktraum meldet der Server sonst jede Nachricht mit Ton; eine Antwort bleibt stumm.
    assert antwort["event_id"] not in gemeldet
