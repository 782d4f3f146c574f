"""Den aktiven Stand der Datenbank wieder als Strukturdatei schreiben."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from modelle.stand import aktuelle_staende
from modelle.strukturdatei import toml_wert
from modelle.tabellen import Person, Raum, Rollenzuweisung, Strategieprojekt, Themenfeld
from modelle.werte import Rolle

_KOPF_EXPORT = """\
# Struktur des Klimabots: Themenfelder, Personen und Strategieprojekte.
# Erzeugt mit „klimabot struktur export“; einlesen mit „klimabot struktur import DATEI“.
# ampel/fortschritt zeigen den aktuellen Stand; beim Import gelten sie nur für Projekte,
# zu denen es noch keine Statusmeldung gibt.
"""


async def exportiere_struktur(sitzung: AsyncSession) -> str:
    """Die aktive Struktur als Strukturdatei, mit dem aktuellen Stand jedes Projekts."""
    felder = (
        await sitzung.scalars(
            select(Themenfeld)
            .where(Themenfeld.archiviert.is_(False))
            .order_by(Themenfeld.reihenfolge, Themenfeld.id)
        )
    ).all()
    position = {f.id: i for i, f in enumerate(felder)}
    slug_von = {f.id: f.slug for f in felder}
    raeume = {
        r.themenfeld_id: r.adresse
        for r in await sitzung.scalars(select(Raum).where(Raum.themenfeld_id.is_not(None)))
    }
    rollen = (
        await sitzung.execute(
            select(
                Person.id,
                Person.matrix_id,
                Person.anzeigename,
                Rollenzuweisung.rolle,
                Rollenzuweisung.themenfeld_id,
            )
            .join(Rollenzuweisung, Rollenzuweisung.person_id == Person.id)
            .order_by(Person.id)
        )
    ).all()
    projekte = (
        await sitzung.scalars(
            select(Strategieprojekt)
            .where(Strategieprojekt.archiviert.is_(False))
            .order_by(Strategieprojekt.reihenfolge, Strategieprojekt.id)
        )
    ).all()
    stand = await aktuelle_staende(sitzung)

    teile = [_KOPF_EXPORT]
    for feld in felder:
        teile.append(
            _toml_tabelle(
                "themenfeld",
                {
                    "slug": feld.slug,
                    "name": feld.name,
                    "aliase": feld.aliase,
                    "raum": raeume.get(feld.id),
                    "abfrage": feld.abfrage,
                    "ueberfaellig_nach_tagen": feld.ueberfaellig_nach_tagen,
                },
            )
        )

    personen: dict[int, dict[str, Any]] = {}
    for person_id, matrix_id, name, rolle, feld_id in rollen:
        # Rollen in archivierten Feldern lassen sich in der Datei nicht ausdrücken.
        if feld_id is not None and feld_id not in position:
            continue
        eintrag = personen.setdefault(
            person_id,
            {
                "matrix_id": matrix_id,
                "name": name,
                "patin": [],
                "koordination": [],
                "stabsstelle": False,
            },
        )
        if rolle == Rolle.STABSSTELLE:
            eintrag["stabsstelle"] = True
        else:
            eintrag[Rolle(rolle).value].append(feld_id)
    for eintrag in personen.values():
        for schluessel in ("patin", "koordination"):
            eintrag[schluessel] = [
                slug_von[i] for i in sorted(eintrag[schluessel], key=position.__getitem__)
            ]
        teile.append(_toml_tabelle("person", eintrag))

    for projekt in sorted(
        (p for p in projekte if p.themenfeld_id in position),
        key=lambda p: (position[p.themenfeld_id], p.reihenfolge, p.id),
    ):
        ampel, fortschritt = stand.get(projekt.id, (None, None))
        teile.append(
            _toml_tabelle(
                "projekt",
                {
                    "slug": projekt.slug,
                    "themenfeld": slug_von[projekt.themenfeld_id],
                    "titel": projekt.titel,
                    "beschreibung": projekt.beschreibung,
                    "aliase": projekt.aliase,
                    "wirkungspotenzial": projekt.wirkungspotenzial,
                    "start": projekt.start,
                    "ende": projekt.geplantes_ende,
                    "ampel": None if ampel is None else ampel.wort,
                    "fortschritt": fortschritt,
                },
            )
        )
    return "\n".join(teile)


def _toml_tabelle(name: str, werte: Mapping[str, Any]) -> str:
    """Ein [[name]]-Eintrag; fehlende Angaben (None, leer, false) werden weggelassen."""
    zeilen = [f"[[{name}]]"]
    for schluessel, wert in werte.items():
        if wert is None or wert is False or (isinstance(wert, str | list | tuple) and not wert):
            continue
        zeilen.append(f"{schluessel} = {toml_wert(wert)}")
    return "\n".join(zeilen) + "\n"
