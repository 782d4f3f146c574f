"""Eine Woche im Klimabot, endend jetzt: Meldungen, Wechsel, ein neuer Import – alles, was
der Wochenbericht nennen soll. Für die Tests des Berichts und des Exports der Statushistorie."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update

from modelle.datenbank import Sitzungsfabrik, erzeuge_engine, erzeuge_sitzungsfabrik
from modelle.meldungen import speichere_meldung
from modelle.strukturdatei import parse_struktur
from modelle.strukturimport import importiere_struktur
from modelle.tabellen import Aenderung, Person, Statusmeldung, Strategieprojekt
from modelle.werte import Ampel, Quelle
from tests.testbot import PATIN_ENERGIE, PATIN_MOBILITAET

ANNA = PATIN_ENERGIE
THOMAS = PATIN_MOBILITAET

_FELDER_UND_PERSONEN = """
[[themenfeld]]
slug = "energie"
name = "Energie"
ueberfaellig_nach_tagen = 14

[[themenfeld]]
slug = "mobilitaet"
name = "Mobilität"
ueberfaellig_nach_tagen = 21

[[themenfeld]]
slug = "klimaanpassung"
name = "Klimaanpassung"

[[person]]
matrix_id = "@anna.becker:muenster.de"
name = "Dr. Anna Becker"
patin = ["energie"]

[[person]]
matrix_id = "@thomas.reinhardt:muenster.de"
name = "Thomas Reinhardt"
patin = ["mobilitaet", "klimaanpassung"]
"""


def _projekt(slug: str, feld: str, titel: str, ampel: str | None = None) -> str:
    zeile = f'\n[[projekt]]\nslug = "{slug}"\nthemenfeld = "{feld}"\ntitel = "{titel}"\n'
    return zeile + (f'ampel = "{ampel}"\n' if ampel else "")


_BESTAND = [
    _projekt("waermeplanung", "energie", "Kommunale Wärmeplanung", "grün"),
    _projekt("pv-offensive", "energie", "PV-Offensive", "grün"),
    _projekt("windenergie", "energie", "Flächen für Windenergie", "rot"),
    _projekt("speicher", "energie", "Quartiersspeicher", "grün"),
    _projekt("radwege", "mobilitaet", "Radvorrangrouten", "grün"),
    _projekt("stadtbaeume", "klimaanpassung", "Klimaresiliente Stadtbäume", "grün"),
]
# Vor der Woche: alles außer Nahwärme und Lastenrad, dazu die Geothermie.
STRUKTUR_VORHER = (
    _FELDER_UND_PERSONEN
    + "".join(_BESTAND)
    + _projekt("geothermie", "energie", "Tiefe Geothermie", "gelb")
)
# Im Lauf der Woche importiert: Geothermie fehlt (wird archiviert), zwei Projekte kommen hinzu.
STRUKTUR_NACHHER = (
    _FELDER_UND_PERSONEN
    + "".join(_BESTAND)
    + _projekt("nahwaerme", "energie", "Nahwärmenetze", "grün")
    + _projekt("lastenrad", "mobilitaet", "Lastenradverleih")
)


@dataclass(frozen=True)
class Woche:
    von: dt.datetime
    bis: dt.datetime
    ausgelassen: dt.datetime


async def _person_id(sitzungen: Sitzungsfabrik, matrix_id: str) -> int:
    async with sitzungen() as sitzung:
        person_id = await sitzung.scalar(select(Person.id).where(Person.matrix_id == matrix_id))
    assert person_id is not None
    return person_id


async def erlebe_woche(sitzungen: Sitzungsfabrik) -> Woche:
    """Eine Woche mit allem, was der Bericht nennen soll, endend jetzt.

    Der erste Import liegt zwei Monate zurück; der zweite läuft jetzt, denn das
    Änderungsprotokoll trägt die echte Uhrzeit.
    """
    jetzt = dt.datetime.now(dt.UTC)
    von = jetzt - dt.timedelta(days=7)
    vor_zwei_monaten = jetzt - dt.timedelta(days=60)
    async with sitzungen.begin() as sitzung:
        await importiere_struktur(sitzung, parse_struktur(STRUKTUR_VORHER, "vorher.toml"), "Test")
        await sitzung.execute(update(Aenderung).values(zeitpunkt=vor_zwei_monaten))
        await sitzung.execute(update(Statusmeldung).values(zeitpunkt=vor_zwei_monaten))
    anna = await _person_id(sitzungen, ANNA)
    thomas = await _person_id(sitzungen, THOMAS)
    async with sitzungen.begin() as sitzung:
        ids = dict(
            (await sitzung.execute(select(Strategieprojekt.slug, Strategieprojekt.id))).all()
        )

        async def melde(
            slug: str,
            tag: int,
            ampel: Ampel,
            text: str,
            autor: int = anna,
            herausforderungen: str | None = None,
            fortschritt: int | None = None,
        ) -> Statusmeldung:
            return await speichere_meldung(
                sitzung,
                projekt_id=ids[slug],
                autor_id=autor,
                ampel=ampel,
                fortschritt=fortschritt,
                text=text,
                herausforderungen=herausforderungen,
                quelle=Quelle.BEFEHL,
                zeitpunkt=von + dt.timedelta(days=tag),
            )

        await melde("pv-offensive", 1, Ampel.GRUEN, "läuft")
        await melde(
            "waermeplanung",
            2,
            Ampel.GELB,
            "Ausschreibung verzögert sich",
            herausforderungen="Vergabe <b>dauert</b>",
            fortschritt=40,
        )
        await melde("windenergie", 3, Ampel.ABGESCHLOSSEN, "Flächen ausgewiesen", fortschritt=100)
        versehen = await melde("pv-offensive", 4, Ampel.ROT, "falsches Projekt")
        versehen.zurueckgezogen = True
        await melde("radwege", 1, Ampel.GRUEN, "im Plan", autor=thomas)
        await melde("stadtbaeume", 2, Ampel.GRUEN, "gepflanzt", autor=thomas)
    async with sitzungen.begin() as sitzung:
        await importiere_struktur(sitzung, parse_struktur(STRUKTUR_NACHHER, "neu.toml"), "Kai")
    return Woche(
        von=von,
        bis=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1),
        ausgelassen=von + dt.timedelta(days=4),
    )


def erlebe_woche_in(url: str) -> Woche:
    """`erlebe_woche` für synchrone Tests, die die Kommandozeile aufrufen."""

    async def ablauf() -> Woche:
        engine = erzeuge_engine(url)
        try:
            return await erlebe_woche(erzeuge_sitzungsfabrik(engine))
        finally:
            await engine.dispose()

    return asyncio.run(ablauf())
