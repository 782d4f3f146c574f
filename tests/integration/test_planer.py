"""Gegen echten Synapse: Abfrage per Reaktion und Thread beantwortet, Wochenbericht mit Bild."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import update

from demo.mensch import Rohereignis
from modelle.tabellen import Themenfeld
from modelle.termine import naechster_arbeitstag
from tests.integration.umgebung import Umgebung

BERLIN = ZoneInfo("Europe/Berlin")


def _vom_bot(umgebung: Umgebung, raum: str, merkmal: str) -> Callable[[str, Rohereignis], bool]:
    def passt(r: str, e: Rohereignis) -> bool:
        return r == raum and e.get("sender") == umgebung.bot_id and merkmal in str(e.get("content"))

    return passt


async def test_abfrage_beantwortet_und_im_wochenbericht_mit_diagramm(umgebung: Umgebung) -> None:
    assert umgebung.bot is not None
    patin, koordination, bot_id = umgebung.patin, umgebung.koordination, umgebung.bot_id
    stab = await umgebung.raum_der_stabsstelle()
    async with umgebung.bot.sitzungen.begin() as sitzung:
        # Täglich, damit der nächste Termin nach dem Import liegt: vorher gab es keine Projekte.
        await sitzung.execute(
            update(Themenfeld).where(Themenfeld.slug == "energie").values(abfrage="täglich 09:00")
        )
    # Der nächste Arbeitstag: an Wochenenden und Feiertagen würde die Abfrage verschoben.
    morgen = naechster_arbeitstag(dt.datetime.now(BERLIN).date() + dt.timedelta(days=1))
    abfrage = dt.datetime.combine(morgen, dt.time(9, 0, 30), tzinfo=BERLIN)

    # Morgen 09:00: die Abfrage (die Uhr des Planers ist eingespeist, der Bot läuft echt).
    await umgebung.planer(abfrage).pruefe()
    kopf = await patin.warte_auf(_vom_bot(umgebung, umgebung.raum_energie, "Fortschrittsabfrage"))
    assert patin.user_id in kopf["content"]["m.mentions"]["user_ids"]
    waerme = await patin.warte_auf(_vom_bot(umgebung, umgebung.raum_energie, "(waermeplanung)"))
    pv = await patin.warte_auf(_vom_bot(umgebung, umgebung.raum_energie, "(pv-offensive)"))
    assert waerme["content"]["m.relates_to"]["event_id"] == kopf["event_id"]

    await patin.reagiere(umgebung.raum_energie, waerme["event_id"], "🔴")
    await patin.warte_auf(_vom_bot(umgebung, umgebung.raum_energie, "rot gespeichert"))
    antwort = await koordination.sende(
        umgebung.raum_energie,
        "gelb, 30 %, Dachstatik wird geprüft Herausforderung: Statikgutachten fehlt",
        thread=kopf["event_id"],
        antwort_auf=pv["event_id"],
    )
    assert await koordination.reaktion_auf(antwort, von=bot_id) == "✅"

    # Der nächste Freitag 14:00: der Wochenbericht nennt beide Änderungen, mit Diagramm.
    freitag = morgen + dt.timedelta(days=(4 - morgen.weekday()) % 7)
    await umgebung.planer(dt.datetime.combine(freitag, dt.time(14, 0, 30), tzinfo=BERLIN)).pruefe()
    bericht = await patin.warte_auf(_vom_bot(umgebung, stab, "Wochenbericht"))
    energie = await patin.warte_auf(_vom_bot(umgebung, stab, "Themenfeld Energie"))
    assert energie["content"]["m.relates_to"]["event_id"] == bericht["event_id"]
    # Beide Projekte sind diese Woche neu: sie stehen unter „Rot und gelb“, nicht als Wechsel.
    assert "🔴 rot *Kommunale Wärmeplanung*" in energie["content"]["body"]
    assert "🟡 gelb *PV-Offensive" in energie["content"]["body"]
    assert "Statikgutachten fehlt" in energie["content"]["body"]
    bild = await patin.warte_auf(
        lambda r, e: r == stab and e.get("content", {}).get("msgtype") == "m.image"
    )
    assert bild["content"]["url"].startswith("mxc://")
    assert bild["content"]["m.relates_to"]["event_id"] == bericht["event_id"]
    herunter = await patin.client.download(bild["content"]["url"])
    assert getattr(herunter, "body", b"").startswith(b"\x89PNG")
