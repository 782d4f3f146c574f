"""Was sich in einem Zeitraum änderte, für den Wochenbericht: Ampelwechsel der Projekte und
ihr Lebenslauf (angelegt, archiviert, wieder aktiviert) laut Änderungsprotokoll.

Wie in `modelle.stand` schickt jede Funktion genau eine SQL-Anweisung und gibt kleine
unveränderliche Werte zurück; es gelten dieselben Regeln (nur gültige Meldungen, die neueste
über `neueste_meldung()`). Der Zeitraum reicht jeweils von nach `von` bis einschließlich `bis`.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from modelle.stand import (
    STRUKTURFOLGE,
    ampel_aus,
    gueltig,
    neueste_meldung,
    zeitpunkt_parameter,
)
from modelle.tabellen import Aenderung, Person, Statusmeldung, Strategieprojekt, Themenfeld
from modelle.werte import Ampel

if TYPE_CHECKING:
    _Abfrage = Select[*tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Ampelwechsel:
    """Ein Projekt, dessen Ampel zu `bis` anders steht als zu `von`.

    Die Meldungsfelder beschreiben die Meldung, mit der das Projekt in den neuen Stand kam:
    bei grün → gelb (Di) → gelb (Do) die vom Dienstag, denn sie erklärt den Wechsel.
    """

    projekt_id: int
    projekt_slug: str
    projekt_titel: str
    themenfeld_id: int
    themenfeld_slug: str
    # Projekt oder Themenfeld inzwischen archiviert; der Wechsel gehört trotzdem in den Bericht.
    archiviert: bool
    alt: Ampel | None
    neu: Ampel
    meldung_id: int
    zeitpunkt: dt.datetime
    autor: str | None
    text: str


class Projektereignis(enum.StrEnum):
    """Was das Änderungsprotokoll über den Lebenslauf eines Projekts festhält."""

    ANGELEGT = "angelegt"
    ARCHIVIERT = "archiviert"
    WIEDER_AKTIVIERT = "wieder aktiviert"


@dataclass(frozen=True, slots=True)
class Projektaenderung:
    projekt_id: int
    projekt_slug: str
    projekt_titel: str
    themenfeld_id: int
    themenfeld_slug: str
    ereignis: Projektereignis
    zeitpunkt: dt.datetime
    wer: str


async def projektaenderungen(
    sitzung: AsyncSession, von: dt.datetime, bis: dt.datetime
) -> list[Projektaenderung]:
    """Projekte, die mit `von` < Zeitpunkt ≤ `bis` angelegt, archiviert oder wieder aktiviert
    wurden, laut Änderungsprotokoll; zeitlich geordnet, auch archivierte Projekte und Felder.
    """
    ergebnis = []
    for (
        projekt_id,
        slug,
        titel,
        feld_id,
        feld_slug,
        feld,
        neu,
        zeitpunkt,
        wer,
    ) in await sitzung.execute(_projektaenderungen_abfrage(), {"von": von, "bis": bis}):
        if feld == "angelegt":
            ereignis = Projektereignis.ANGELEGT
        elif neu == "ja":
            ereignis = Projektereignis.ARCHIVIERT
        else:
            ereignis = Projektereignis.WIEDER_AKTIVIERT
        ergebnis.append(
            Projektaenderung(
                projekt_id=projekt_id,
                projekt_slug=slug,
                projekt_titel=titel,
                themenfeld_id=feld_id,
                themenfeld_slug=feld_slug,
                ereignis=ereignis,
                zeitpunkt=zeitpunkt,
                wer=wer,
            )
        )
    return ergebnis


@functools.cache
def _projektaenderungen_abfrage() -> _Abfrage:
    return (
        select(
            Strategieprojekt.id,
            Strategieprojekt.slug,
            Strategieprojekt.titel,
            Themenfeld.id.label("themenfeld_id"),
            Themenfeld.slug.label("themenfeld_slug"),
            Aenderung.feld,
            Aenderung.neu,
            Aenderung.zeitpunkt,
            Aenderung.wer,
        )
        .select_from(Aenderung)
        # Das Protokoll nennt Projekte beim Slug; Slugs sind eindeutig und werden nie vergeben,
        # solange es das Projekt gibt (archiviert wird, nicht gelöscht).
        .join(Strategieprojekt, Strategieprojekt.slug == Aenderung.objekt)
        .join(Themenfeld, Themenfeld.id == Strategieprojekt.themenfeld_id)
        .where(
            Aenderung.objekt_art == "projekt",
            Aenderung.feld.in_(("angelegt", "archiviert")),
            Aenderung.zeitpunkt > zeitpunkt_parameter("von"),
            Aenderung.zeitpunkt <= zeitpunkt_parameter("bis"),
        )
        .order_by(Aenderung.zeitpunkt, Aenderung.id)
    )


async def ampel_wechsel(
    sitzung: AsyncSession, von: dt.datetime, bis: dt.datetime
) -> list[Ampelwechsel]:
    """Projekte, deren Ampel zu `bis` anders steht als zu `von` (`alt` leer: vorher nie gemeldet).

    Der Stand zu einem Zeitpunkt ist die neueste gültige Meldung mit `zeitpunkt` ≤ diesem.
    Wer zwischendurch wechselte und zurückkam (grün → gelb → grün), hat sich nicht verändert.
    Archivierte Projekte und Projekte archivierter Felder erscheinen, wenn sie gewechselt haben:
    gerade abgeschlossene Projekte werden oft in derselben Woche archiviert, und der
    Wochenbericht soll ihren Abschluss trotzdem nennen.
    """
    if von > bis:
        raise ValueError(f"von ({von.isoformat()}) liegt nach bis ({bis.isoformat()})")
    return [
        Ampelwechsel(
            projekt_id=projekt_id,
            projekt_slug=slug,
            projekt_titel=titel,
            themenfeld_id=feld_id,
            themenfeld_slug=feld_slug,
            archiviert=bool(archiviert),
            alt=ampel_aus(alt),
            neu=Ampel(neu),
            meldung_id=meldung_id,
            zeitpunkt=zeitpunkt,
            autor=autor,
            text=text,
        )
        for (
            projekt_id,
            slug,
            titel,
            feld_id,
            feld_slug,
            archiviert,
            alt,
            neu,
            meldung_id,
            zeitpunkt,
            text,
            autor,
        ) in await sitzung.execute(_ampel_wechsel_abfrage(), {"von": von, "bis": bis})
    ]


@functools.cache
def _ampel_wechsel_abfrage() -> _Abfrage:
    von = zeitpunkt_parameter("von")
    bis = zeitpunkt_parameter("bis")
    # Nur Projekte mit Meldungen zwischen `von` und `bis` können gewechselt haben, und die
    # Meldung, die den neuen Stand setzte, liegt dort: es ist die neueste, deren Farbe die
    # von `bis` ist und deren Vorgängerin eine andere Farbe hatte. Die Vorgängerin der
    # ersten Meldung im Zeitraum ist die zu `von`; ist deren Farbe schon die neue, fällt
    # das Projekt am Ende ohnehin heraus, darum zählt die erste hier immer als Wechsel.
    # Die Fensterfunktionen rechnen nur mit Spalten der Meldungen selbst, damit kein
    # Planer eine Unterabfrage je Meldung wiederholt.
    neueste_zuerst = (Statusmeldung.zeitpunkt.desc(), Statusmeldung.id.desc())
    lauf = (
        select(
            Statusmeldung.id,
            Statusmeldung.projekt_id,
            Statusmeldung.zeitpunkt,
            Statusmeldung.ampel,
            func.first_value(Statusmeldung.ampel)
            .over(partition_by=Statusmeldung.projekt_id, order_by=neueste_zuerst)
            .label("neu"),
            # Die nächstältere Meldung; dasselbe Fenster wie oben, also nur eine Sortierung.
            func.lead(Statusmeldung.ampel)
            .over(partition_by=Statusmeldung.projekt_id, order_by=neueste_zuerst)
            .label("vorige"),
        )
        .where(
            gueltig(Statusmeldung),
            Statusmeldung.zeitpunkt > von,
            Statusmeldung.zeitpunkt <= bis,
        )
        .subquery("lauf")
    )
    wechsel = (
        select(
            lauf.c.id,
            lauf.c.projekt_id,
            lauf.c.neu,
            func.row_number()
            .over(
                partition_by=lauf.c.projekt_id,
                order_by=(lauf.c.zeitpunkt.desc(), lauf.c.id.desc()),
            )
            .label("nr"),
            # Der Stand zu `von`, hier, wo die Fensterfunktion die Abfrage zusammenhält: weiter
            # außen setzten SQLite und PostgreSQL den Indexabstieg überall ein, wo die Spalte
            # vorkommt, und stiegen je Projekt dreimal ab statt einmal.
            neueste_meldung(Statusmeldung.ampel, bis=von, projekt=lauf.c.projekt_id).label("alt"),
        )
        .where(
            lauf.c.ampel == lauf.c.neu,
            or_(lauf.c.vorige.is_(None), lauf.c.vorige != lauf.c.ampel),
        )
        .subquery("wechsel")
    )
    return (
        select(
            Strategieprojekt.id,
            Strategieprojekt.slug,
            Strategieprojekt.titel,
            Themenfeld.id,
            Themenfeld.slug,
            or_(Strategieprojekt.archiviert, Themenfeld.archiviert),
            wechsel.c.alt,
            wechsel.c.neu,
            Statusmeldung.id,
            Statusmeldung.zeitpunkt,
            Statusmeldung.text,
            Person.anzeigename,
        )
        .select_from(wechsel)
        .join(Statusmeldung, Statusmeldung.id == wechsel.c.id)
        .join(Strategieprojekt, Strategieprojekt.id == wechsel.c.projekt_id)
        .join(Themenfeld, Themenfeld.id == Strategieprojekt.themenfeld_id)
        .outerjoin(Person, Person.id == Statusmeldung.autor_id)
        .where(wechsel.c.nr == 1, or_(wechsel.c.alt.is_(None), wechsel.c.alt != wechsel.c.neu))
        .order_by(*STRUKTURFOLGE)
    )
