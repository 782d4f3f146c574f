"""Der Stand der Projekte aus ihren Statusmeldungen – jetzt oder zu einem Zeitpunkt –, wie
Befehle, Abfrage-Nachrichten und Wochenbericht ihn lesen, und die Regeln dafür (neueste gültige
Meldung, überfällig). Was sich in einem Zeitraum änderte, liest `modelle.wechsel`.

Jede Funktion schickt genau eine SQL-Anweisung an die Datenbank, gleich wie viele
Themenfelder, Projekte oder Meldungen es gibt, und gibt kleine unveränderliche Werte
zurück statt ORM-Objekten: Aufrufer brauchen keine offene Sitzung und können nichts
versehentlich nachladen.

Gemeinsame Regeln:

- Es zählen nur gültige Meldungen; zurückgezogene (`zurueckgezogen`) bleiben für die
  Nachvollziehbarkeit in der Tabelle, spielen hier aber nirgends mit.
- „Die neueste Meldung“ eines Projekts ist die mit dem spätesten `zeitpunkt`; bei
  gleichem Zeitpunkt gewinnt die höhere `id` (die später gespeicherte). Jede Abfrage hier
  und in anderen Modulen holt sie über `neueste_meldung()`.
- „Überfällig“ ist ein laufendes Projekt nach `ist_ueberfaellig()`; die Erinnerungen
  (`modelle.versand`) und der Wochenbericht (`modelle.berichtsdaten`) fragen beide dort.
- Archivierte Themenfelder und Projekte erscheinen nicht, wo nicht anders gesagt.
- Sortiert wird nach `reihenfolge`, dann `id`: Themenfelder zuerst, darin die Projekte.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Row,
    ScalarSelect,
    Select,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from modelle.basis import UTCZeit
from modelle.tabellen import Person, Statusmeldung, Strategieprojekt, Themenfeld
from modelle.werte import Ampel, Quelle

_T = TypeVar("_T")
if TYPE_CHECKING:
    # Zeilen und Abfragen mit beliebig vielen, beliebig getypten Spalten.
    _Zeile = Row[*tuple[Any, ...]]
    _Abfrage = Select[*tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Projektstand:
    """Ein Projekt mit seiner neuesten Meldung; die Meldungsfelder sind leer, wenn es keine gibt."""

    projekt_id: int
    projekt_slug: str
    projekt_titel: str
    themenfeld_id: int
    themenfeld_slug: str
    themenfeld_name: str
    # Projekt oder Themenfeld archiviert; kann nur bei `projektstand()` wahr sein.
    archiviert: bool
    meldung_id: int | None
    ampel: Ampel | None
    fortschritt: int | None
    text: str | None
    herausforderungen: str | None
    zeitpunkt: dt.datetime | None
    autor: str | None
    # Woher die Meldung kam; `Quelle.IMPORT` ist der Anfangsstand aus der Strukturdatei.
    quelle: Quelle | None = None

    @property
    def ist_anfangsstand(self) -> bool:
        return self.quelle is Quelle.IMPORT


@dataclass(frozen=True, slots=True)
class Felduebersicht:
    """Ein Themenfeld auf einen Blick, gezählt nach dem neuesten Stand seiner aktiven Projekte."""

    themenfeld_id: int
    themenfeld_slug: str
    themenfeld_name: str
    # Immer alle vier Ampelwerte als Schlüssel, auch mit 0.
    ampeln: Mapping[Ampel, int]
    ohne_meldung: int
    # Die neueste Meldung des am längsten stillen laufenden Projekts; abgeschlossene Projekte
    # melden nicht mehr und zählen nicht mit. Leer, wenn kein laufendes Projekt je gemeldet hat.
    aelteste_meldung: dt.datetime | None

    @property
    def projekte(self) -> int:
        return sum(self.ampeln.values()) + self.ohne_meldung


@dataclass(frozen=True, slots=True)
class Meldungseintrag:
    meldung_id: int
    zeitpunkt: dt.datetime
    ampel: Ampel
    fortschritt: int | None
    text: str
    herausforderungen: str | None
    autor: str | None
    quelle: Quelle


@dataclass(frozen=True, slots=True)
class Feldangabe:
    """Ein aktives Themenfeld mit dem, was der Wochenbericht über es wissen muss."""

    themenfeld_id: int
    themenfeld_slug: str
    themenfeld_name: str
    ueberfaellig_nach_tagen: int


@dataclass(frozen=True, slots=True)
class Stichtagsampel:
    """So viele aktive Projekte eines Themenfelds standen zum Stichtag Nummer `stichtag` auf
    `ampel` (`None`: bis dahin ohne gültige Meldung)."""

    stichtag: int
    themenfeld_id: int
    ampel: Ampel | None
    anzahl: int


# Die Meldungstabelle in den korrelierten Unterabfragen. Einmal angelegt, weil `aliased()`
# teuer ist; derselbe Name in mehreren Unterabfragen ist unbedenklich, jede hat ihren Bereich.
_JUENGSTE = aliased(Statusmeldung, name="juengste")


def gueltig(meldung: type[Statusmeldung]) -> ColumnElement[bool]:
    """Nur gültige Meldungen zählen: zurückgezogene bleiben stehen, spielen aber nirgends mit."""
    return ~meldung.zurueckgezogen


def neueste_meldung(
    spalte: InstrumentedAttribute[_T],
    *,
    bis: dt.datetime | ColumnElement[dt.datetime] | None = None,
    projekt: ColumnElement[int] | None = None,
) -> ScalarSelect[_T]:
    """`spalte` der neuesten gültigen Meldung des äußeren Projekts (höchstens `bis`).

    Die eine Stelle, an der „die neueste gültige Meldung“ eines Projekts gebaut wird, als
    korrelierte Unterabfrage für eine Abfrage über Projekte: `spalte` ist eine Spalte von
    `Statusmeldung`, das Projekt ist `Strategieprojekt` oder die Projekt-Id `projekt` der
    äußeren Abfrage, `bis` ein Zeitpunkt oder eine Spalte der äußeren Abfrage (Stichtage).
    Ein Indexabstieg je Projekt über `ix_statusmeldung_projekt_stand` statt einer
    Fensterfunktion über alle Meldungen; die Kosten wachsen mit der Zahl der Projekte, nicht
    mit der Historie. Für die Ampel reicht der Index allein.
    """
    wert: InstrumentedAttribute[_T] = getattr(_JUENGSTE, spalte.key)
    abfrage = select(wert).where(
        _JUENGSTE.projekt_id == (Strategieprojekt.id if projekt is None else projekt),
        gueltig(_JUENGSTE),
    )
    if bis is not None:
        abfrage = abfrage.where(_JUENGSTE.zeitpunkt <= bis)
    return (
        abfrage.order_by(_JUENGSTE.zeitpunkt.desc(), _JUENGSTE.id.desc())
        .limit(1)
        .correlate_except(_JUENGSTE)
        .scalar_subquery()
    )


def _neuester_stand() -> _Abfrage:
    """Je Projekt Ampel und Zeitpunkt seiner neuesten Meldung, ohne die Meldung zu verbinden.

    Zwei skalare Unterabfragen statt eines Joins über die Meldungs-Id: über alle Projekte
    plant PostgreSQL jenen Join als Hash-Join über die ganze Meldungstabelle (gemessen bei
    25 000 Meldungen: 10 ms Ausführung gegenüber 3 ms so). Wer diese Spalten weiterreicht,
    darf sie nicht je Meldung auswerten lassen: Planer setzen Unterabfragen dort ein, wo
    die Spalte gebraucht wird, und wiederholen sie dann je Zeile.
    """
    return select(
        Strategieprojekt.id.label("projekt_id"),
        Strategieprojekt.themenfeld_id,
        neueste_meldung(Statusmeldung.ampel).label("ampel"),
        neueste_meldung(Statusmeldung.zeitpunkt).label("zeitpunkt"),
    )


# Wie die Strukturdatei sortiert: Themenfelder in ihrer Reihenfolge, darin die Projekte.
STRUKTURFOLGE = (
    Themenfeld.reihenfolge,
    Themenfeld.id,
    Strategieprojekt.reihenfolge,
    Strategieprojekt.id,
)


# Gespeicherter Wert → Aufzählung; ein Wörterbuch ist viel schneller als `Ampel(wert)`.
_AMPELN: dict[str | None, Ampel | None] = {None: None, **{a.value: a for a in Ampel}}
_QUELLEN = {q.value: q for q in Quelle}


def ampel_aus(wert: str | None) -> Ampel | None:
    """Die Ampel zu einem gespeicherten Wert (leer bleibt leer)."""
    return _AMPELN[wert]


def zeitpunkt_parameter(name: str) -> BindParameter[dt.datetime]:
    """Ein Zeitpunkt als Parameter. Die Abfragen des Wochenberichts werden einmal gebaut
    (`functools.cache`) und mit Parametern wie `zeitpunkt_parameter("bis")` ausgeführt: Bauen
    und Cache-Schlüssel kosten SQLAlchemy je Abfrage ein bis zwei Millisekunden, beim
    Wochenbericht mehr als alle Ergebniszeilen zusammen."""
    return bindparam(name, type_=UTCZeit())


def _projektstaende(bis: dt.datetime | BindParameter[dt.datetime] | None = None) -> _Abfrage:
    return (
        select(
            Strategieprojekt.id.label("projekt_id"),
            Strategieprojekt.slug.label("projekt_slug"),
            Strategieprojekt.titel.label("projekt_titel"),
            Themenfeld.id.label("themenfeld_id"),
            Themenfeld.slug.label("themenfeld_slug"),
            Themenfeld.name.label("themenfeld_name"),
            or_(Strategieprojekt.archiviert, Themenfeld.archiviert).label("archiviert"),
            Statusmeldung.id.label("meldung_id"),
            Statusmeldung.ampel,
            Statusmeldung.fortschritt,
            Statusmeldung.text,
            Statusmeldung.herausforderungen,
            Statusmeldung.zeitpunkt,
            Statusmeldung.quelle,
            Person.anzeigename.label("autor"),
        )
        .select_from(Strategieprojekt)
        .join(Themenfeld, Themenfeld.id == Strategieprojekt.themenfeld_id)
        .outerjoin(Statusmeldung, Statusmeldung.id == neueste_meldung(Statusmeldung.id, bis=bis))
        .outerjoin(Person, Person.id == Statusmeldung.autor_id)
    )


def _als_projektstand(zeile: _Zeile) -> Projektstand:
    # Nach Position, in der Reihenfolge von `_projektstaende()`: der Zugriff über den Namen
    # (`zeile.ampel`) kostet in SQLAlchemy 2.1 je Spalte etwa eine Mikrosekunde, beim
    # Wochenbericht (300 Projekte, 15 Spalten) mehrere Millisekunden.
    (
        projekt_id,
        projekt_slug,
        projekt_titel,
        themenfeld_id,
        themenfeld_slug,
        themenfeld_name,
        archiviert,
        meldung_id,
        ampel,
        fortschritt,
        text,
        herausforderungen,
        zeitpunkt,
        quelle,
        autor,
    ) = zeile
    return Projektstand(
        projekt_id=projekt_id,
        projekt_slug=projekt_slug,
        projekt_titel=projekt_titel,
        themenfeld_id=themenfeld_id,
        themenfeld_slug=themenfeld_slug,
        themenfeld_name=themenfeld_name,
        archiviert=bool(archiviert),
        meldung_id=meldung_id,
        ampel=ampel_aus(ampel),
        fortschritt=fortschritt,
        text=text,
        herausforderungen=herausforderungen,
        zeitpunkt=zeitpunkt,
        autor=autor,
        quelle=None if quelle is None else _QUELLEN[quelle],
    )


async def letzte_meldungen(sitzung: AsyncSession, themenfeld_id: int) -> list[Projektstand]:
    """Jedes aktive Projekt des Themenfelds mit seiner neuesten Meldung.

    Ein archiviertes Themenfeld hat keine aktiven Projekte: dann ist die Liste leer.
    """
    zeilen = await sitzung.execute(_feld_abfrage(), {"themenfeld_id": themenfeld_id})
    return [_als_projektstand(zeile) for zeile in zeilen]


# Die Abfragen der Befehle werden einmal gebaut und mit Parametern ausgeführt: einen Ausdruck
# zusammenzusetzen kostet in SQLAlchemy mehr CPU, als ihn (aus dem Cache übersetzt) auszuführen.
@functools.cache
def _feld_abfrage() -> _Abfrage:
    return (
        _projektstaende()
        .where(
            Strategieprojekt.themenfeld_id == bindparam("themenfeld_id"),
            ~Strategieprojekt.archiviert,
            ~Themenfeld.archiviert,
        )
        .order_by(Strategieprojekt.reihenfolge, Strategieprojekt.id)
    )


@functools.cache
def _projekt_abfrage() -> _Abfrage:
    return _projektstaende().where(Strategieprojekt.id == bindparam("projekt_id"))


async def alle_letzten_meldungen(
    sitzung: AsyncSession, *, bis: dt.datetime | None = None
) -> list[Projektstand]:
    """Wie `letzte_meldungen`, aber für alle aktiven Themenfelder auf einmal und zum Stand `bis`.

    Mit `bis` zählen spätere Meldungen nicht: ein Bericht über eine vergangene Woche zeigt
    die Ampeln, wie sie an ihrem Ende standen. Archiviert ist, was heute archiviert ist;
    wann es das wurde, steht nur im Änderungsprotokoll.
    """
    if bis is None:
        zeilen = await sitzung.execute(_alle_letzten_abfrage(mit_bis=False))
    else:
        zeilen = await sitzung.execute(_alle_letzten_abfrage(mit_bis=True), {"bis": bis})
    return [_als_projektstand(zeile) for zeile in zeilen]


@functools.cache
def _alle_letzten_abfrage(*, mit_bis: bool) -> _Abfrage:
    return (
        _projektstaende(zeitpunkt_parameter("bis") if mit_bis else None)
        .where(~Strategieprojekt.archiviert, ~Themenfeld.archiviert)
        .order_by(*STRUKTURFOLGE)
    )


@functools.cache
def _aktive_themenfelder_abfrage() -> _Abfrage:
    return (
        select(Themenfeld.id, Themenfeld.slug, Themenfeld.name, Themenfeld.ueberfaellig_nach_tagen)
        .where(~Themenfeld.archiviert)
        .order_by(Themenfeld.reihenfolge, Themenfeld.id)
    )


async def aktive_themenfelder(sitzung: AsyncSession) -> list[Feldangabe]:
    """Die aktiven Themenfelder in ihrer Reihenfolge, auch solche ohne Projekte."""
    return [
        Feldangabe(
            themenfeld_id=feld_id,
            themenfeld_slug=slug,
            themenfeld_name=name,
            ueberfaellig_nach_tagen=tage,
        )
        for feld_id, slug, name, tage in await sitzung.execute(_aktive_themenfelder_abfrage())
    ]


async def ampeln_zu_stichtagen(
    sitzung: AsyncSession, stichtage: Sequence[dt.datetime]
) -> list[Stichtagsampel]:
    """Je Stichtag und aktivem Themenfeld: wie viele aktive Projekte auf welcher Ampel standen.

    Maßgeblich ist je Projekt die neueste gültige Meldung bis zum Stichtag (einschließlich).
    Gezählt wird in der Datenbank, aus den Indizes allein; nach Python kommen einige hundert
    Zeilen, gleich wie viele Projekte es gibt. Der Weg dorthin hängt von der Datenbank ab
    (gemessen bei 305 Projekten, 84 000 Meldungen und 12 Stichtagen):

    - PostgreSQL geht einmal durch den Zeitraum (`_stichtage_im_lauf`): 8 ms. Je Projekt
      und Stichtag eine Unterabfrage kostete 18 ms, denn jede einzelne kostet dort einige
      Mikrosekunden.
    - SQLite steigt je Projekt und Stichtag in den Index ab (`_stichtage_je_abstieg`): 4,5 ms
      für 3 400 Abstiege im selben Prozess; derselbe Lauf mit Fensterfunktion kostete 9 ms.
    """
    if not stichtage:
        return []
    # Gerechnet wird mit aufsteigenden Stichtagen; zurück kommt die Nummer des Aufrufs.
    folge = sorted(range(len(stichtage)), key=lambda i: stichtage[i])
    grenzen = {f"grenze_{nr}": stichtage[i] for nr, i in enumerate(folge)}
    if sitzung.get_bind().dialect.name == "sqlite":
        return [
            Stichtagsampel(
                stichtag=folge[nr], themenfeld_id=feld_id, ampel=_AMPELN[ampel], anzahl=anzahl
            )
            for nr, feld_id, ampel, anzahl in await sitzung.execute(
                _stichtage_je_abstieg(len(folge)), grenzen
            )
        ]
    je_stichtag: list[list[tuple[int, str | None, str | None, int]]] = [[] for _ in folge]
    for nr, feld_id, ampel, vorher, anzahl in await sitzung.execute(
        _stichtage_im_lauf(len(folge)), grenzen
    ):
        je_stichtag[nr].append((feld_id, ampel, vorher, anzahl))
    stand: Counter[tuple[int, str | None]] = Counter()
    ergebnis: list[Stichtagsampel] = []
    for nr, wechsel in enumerate(je_stichtag):
        for feld_id, ampel, vorher, anzahl in wechsel:
            stand[feld_id, ampel] += anzahl
            if nr:
                stand[feld_id, vorher] -= anzahl
        ergebnis.extend(
            Stichtagsampel(
                stichtag=folge[nr], themenfeld_id=feld_id, ampel=_AMPELN[ampel], anzahl=anzahl
            )
            for (feld_id, ampel), anzahl in stand.items()
            if anzahl
        )
    return ergebnis


def _stichtage(anzahl: int) -> list[BindParameter[dt.datetime]]:
    return [zeitpunkt_parameter(f"grenze_{nr}") for nr in range(anzahl)]


@functools.lru_cache(maxsize=8)
def _stichtage_je_abstieg(anzahl: int) -> _Abfrage:
    """Je (Stichtag, Feld, Ampel) die Zahl der aktiven Projekte, für `anzahl` Stichtage
    `grenze_0` …: je Projekt und Stichtag die neueste gültige Meldung bis dahin."""
    tage = union_all(
        *(
            select(literal(nr, Integer).label("nr"), grenze.label("grenze"))
            for nr, grenze in enumerate(_stichtage(anzahl))
        )
    ).cte("stichtag")
    ampel = neueste_meldung(Statusmeldung.ampel, bis=tage.c.grenze)
    stand = (
        select(tage.c.nr, Strategieprojekt.themenfeld_id, ampel.label("ampel"))
        .select_from(Strategieprojekt)
        .join(Themenfeld, Themenfeld.id == Strategieprojekt.themenfeld_id)
        .join(tage, true())
        .where(~Strategieprojekt.archiviert, ~Themenfeld.archiviert)
        .cte("stand")
    )
    return select(stand.c.nr, stand.c.themenfeld_id, stand.c.ampel, func.count()).group_by(
        stand.c.nr, stand.c.themenfeld_id, stand.c.ampel
    )


@functools.lru_cache(maxsize=8)
def _stichtage_im_lauf(anzahl: int) -> _Abfrage:
    """Je (Stichtag, Feld, Ampel, Ampel davor) die Zahl der Wechsel, für `anzahl` aufsteigende
    Stichtage `grenze_0` …: je Projekt der Stand zum ersten Stichtag (ein Indexabstieg), dann
    jede spätere Meldung bis zum letzten als Schritt von der Ampel davor zu ihrer. Der
    Anfangsstand zählt zum ersten Stichtag, mit leerem „davor“; ein Hin und Zurück zwischen
    zwei Stichtagen hebt sich beim Aufsummieren auf."""
    grenzen = _stichtage(anzahl)
    aktiv = (~Strategieprojekt.archiviert, ~Themenfeld.archiviert)
    anfang = (
        select(
            Strategieprojekt.id.label("projekt_id"),
            Strategieprojekt.themenfeld_id,
            grenzen[0].label("zeitpunkt"),
            literal(0, Integer).label("id"),
            neueste_meldung(Statusmeldung.ampel, bis=grenzen[0]).label("ampel"),
        )
        .join(Themenfeld, Themenfeld.id == Strategieprojekt.themenfeld_id)
        .where(*aktiv)
    )
    spaeter = (
        select(
            Statusmeldung.projekt_id,
            Strategieprojekt.themenfeld_id,
            Statusmeldung.zeitpunkt,
            Statusmeldung.id,
            Statusmeldung.ampel,
        )
        .join(Strategieprojekt, Strategieprojekt.id == Statusmeldung.projekt_id)
        .join(Themenfeld, Themenfeld.id == Strategieprojekt.themenfeld_id)
        .where(
            *aktiv,
            gueltig(Statusmeldung),
            Statusmeldung.zeitpunkt > grenzen[0],
            Statusmeldung.zeitpunkt <= grenzen[-1],
        )
    )
    lauf = union_all(anfang, spaeter).subquery("lauf")
    schritte = select(
        lauf.c.themenfeld_id,
        lauf.c.zeitpunkt,
        lauf.c.ampel,
        func.lag(lauf.c.ampel)
        .over(partition_by=lauf.c.projekt_id, order_by=(lauf.c.zeitpunkt, lauf.c.id))
        .label("vorher"),
    ).subquery("schritte")
    # Zu welchem Stichtag ein Schritt zählt: dem ersten, der nicht vor ihm liegt. Erst nach
    # dem Fenster zugeordnet, denn die meisten Schritte wechseln nichts und fallen vorher weg.
    stichtag: ColumnElement[int] = (
        case(
            *((schritte.c.zeitpunkt <= grenze, nr) for nr, grenze in enumerate(grenzen[:-1])),
            else_=anzahl - 1,
        )
        if anzahl > 1
        else literal(0, Integer)
    )
    wechsel = (
        select(
            stichtag.label("nr"),
            schritte.c.themenfeld_id,
            schritte.c.ampel,
            schritte.c.vorher,
        )
        # Der Anfangsstand hat kein `vorher`; ein Schritt ohne Wechsel ändert nichts.
        .where(or_(schritte.c.vorher.is_(None), schritte.c.vorher != schritte.c.ampel))
        .subquery("wechsel")
    )
    return select(
        wechsel.c.nr, wechsel.c.themenfeld_id, wechsel.c.ampel, wechsel.c.vorher, func.count()
    ).group_by(wechsel.c.nr, wechsel.c.themenfeld_id, wechsel.c.ampel, wechsel.c.vorher)


async def projektstand(sitzung: AsyncSession, projekt_id: int) -> Projektstand | None:
    """Ein Projekt mit seiner neuesten Meldung, auch wenn es archiviert ist (`archiviert` sagt es).

    Wer nach einem bestimmten Projekt fragt, soll dessen letzten Stand sehen; ob archivierte
    Projekte überhaupt ansprechbar sind, entscheidet, wer den Namen auflöst.
    """
    zeile = (await sitzung.execute(_projekt_abfrage(), {"projekt_id": projekt_id})).one_or_none()
    return None if zeile is None else _als_projektstand(zeile)


async def aktuelle_staende(sitzung: AsyncSession) -> dict[int, tuple[Ampel, int | None]]:
    """Ampel und Fortschritt der neuesten gültigen Meldung je Projekt.

    Nur Projekte mit gültiger Meldung, archivierte auch, denn sie können wieder aufleben:
    so vergleicht der Strukturimport den Anfangsstand der Datei, so schreibt der Export ihn.
    """
    zeilen = await sitzung.execute(
        select(Strategieprojekt.id, Statusmeldung.ampel, Statusmeldung.fortschritt).join(
            Statusmeldung, Statusmeldung.id == neueste_meldung(Statusmeldung.id)
        )
    )
    return {projekt_id: (Ampel(ampel), fortschritt) for projekt_id, ampel, fortschritt in zeilen}


async def feld_uebersicht(sitzung: AsyncSession) -> list[Felduebersicht]:
    """Je aktivem Themenfeld die Ampelzahlen seiner aktiven Projekte; auch Felder ohne Projekte."""
    return [
        Felduebersicht(
            themenfeld_id=zeile.id,
            themenfeld_slug=zeile.slug,
            themenfeld_name=zeile.name,
            ampeln={ampel: zeile._mapping[ampel.value] for ampel in Ampel},
            ohne_meldung=zeile.ohne_meldung,
            aelteste_meldung=zeile.aelteste_meldung,
        )
        for zeile in await sitzung.execute(_uebersicht_abfrage())
    ]


@functools.cache
def _uebersicht_abfrage() -> _Abfrage:
    stand = _neuester_stand().where(~Strategieprojekt.archiviert).subquery("stand")
    projekte = func.count(stand.c.themenfeld_id)
    je_ampel = [func.count(case((stand.c.ampel == ampel, 1))).label(ampel) for ampel in Ampel]
    return (
        select(
            Themenfeld.id,
            Themenfeld.slug,
            Themenfeld.name,
            *je_ampel,
            (projekte - func.count(stand.c.ampel)).label("ohne_meldung"),
            func.min(case((stand.c.ampel != Ampel.ABGESCHLOSSEN, stand.c.zeitpunkt))).label(
                "aelteste_meldung"
            ),
        )
        .outerjoin(stand, stand.c.themenfeld_id == Themenfeld.id)
        .where(~Themenfeld.archiviert)
        .group_by(Themenfeld.id, Themenfeld.slug, Themenfeld.name, Themenfeld.reihenfolge)
        .order_by(Themenfeld.reihenfolge, Themenfeld.id)
    )


def still_seit(
    letzte_meldung: dt.datetime | None, aufgenommen: dt.datetime | None
) -> dt.datetime | None:
    """Seit wann ein Projekt still ist: seit dem späteren von letzter gültiger Meldung und
    letzter Aufnahme (angelegt oder wieder aktiviert, laut Änderungsprotokoll).

    So hat ein neues oder wieder aufgenommenes Projekt seine Frist, bevor es überfällig wird.
    Leer, wenn keins von beiden bekannt ist (Daten ohne Protokoll, nie gemeldet).
    """
    if letzte_meldung is None or aufgenommen is None:
        return letzte_meldung or aufgenommen
    return max(letzte_meldung, aufgenommen)


def ist_ueberfaellig(
    ampel: Ampel | None,
    still_seit: dt.datetime | None,
    *,
    frist_tage: int,
    stichtag: dt.datetime,
) -> bool:
    """Die Regel „überfällig“, für Erinnerungen und Wochenbericht gleich.

    Ein Projekt mit der Ampel `ampel` (seiner neuesten gültigen Meldung, leer ohne Meldung),
    still seit `still_seit` (siehe `still_seit()`), ist zum `stichtag` überfällig, wenn es
    länger als `frist_tage` (die seines Themenfelds) still ist: genau `frist_tage` Tage sind
    noch in der Frist. Ist unbekannt, seit wann es still ist, ist es überfällig.
    Abgeschlossene Projekte sind es nie, denn für sie endet die Berichtspflicht (bis eine
    neuere Meldung sie wieder öffnet). Ob Projekt und Feld aktiv sind, prüft, wer fragt.
    """
    if ampel is Ampel.ABGESCHLOSSEN:
        return False
    return still_seit is None or still_seit < stichtag - dt.timedelta(days=frist_tage)


async def verlauf(sitzung: AsyncSession, projekt_id: int, anzahl: int = 5) -> list[Meldungseintrag]:
    """Die neuesten `anzahl` gültigen Meldungen des Projekts, neueste zuerst."""
    if anzahl < 0:
        raise ValueError(f"anzahl darf nicht negativ sein: {anzahl}")
    abfrage = (
        select(
            Statusmeldung.id,
            Statusmeldung.zeitpunkt,
            Statusmeldung.ampel,
            Statusmeldung.fortschritt,
            Statusmeldung.text,
            Statusmeldung.herausforderungen,
            Person.anzeigename,
            Statusmeldung.quelle,
        )
        .outerjoin(Person, Person.id == Statusmeldung.autor_id)
        .where(Statusmeldung.projekt_id == projekt_id, gueltig(Statusmeldung))
        .order_by(Statusmeldung.zeitpunkt.desc(), Statusmeldung.id.desc())
        .limit(anzahl)
    )
    return [
        Meldungseintrag(
            meldung_id=meldung_id,
            zeitpunkt=zeitpunkt,
            ampel=Ampel(ampel),
            fortschritt=fortschritt,
            text=text,
            herausforderungen=herausforderungen,
            autor=autor,
            quelle=Quelle(quelle),
        )
        for (
            meldung_id,
            zeitpunkt,
            ampel,
            fortschritt,
            text,
            herausforderungen,
            autor,
            quelle,
        ) in await sitzung.execute(abfrage)
    ]
