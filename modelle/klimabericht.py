"""Das Kapitel für den Klimabericht als Daten: was ein Zeitraum (meist ein Jahr) je Themenfeld
gebracht hat – abgeschlossene Projekte, Ampelwechsel, die gemeldeten Herausforderungen und den
Verlauf der Ampeln über den Zeitraum.

Das Kapitel ist für die Veröffentlichung gedacht: Es nennt keine Personen und keine
Matrix-IDs. Freitext enthält es nur, wo das Issue ihn verlangt – die Herausforderungen, die
Pat*innen und Koordinator*innen gemeldet haben; was davon in den gedruckten Bericht geht,
entscheidet die Stabsstelle beim Redigieren.

Gezählt wird wie im Wochenbericht (`modelle.berichtsdaten`), dessen Zusammenstellung das
Kapitel für Stände, Überfälliges und neue Projekte wiederverwendet. Anders als dort zählt jeder
Ampelwechsel im Zeitraum, nicht nur der Unterschied zwischen Anfang und Ende, und abgeschlossen
ist auch, was erst im Zeitraum aufgenommen wurde. Die Zahl der Abfragen hängt nicht von der
Zahl der Projekte oder Meldungen ab.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from modelle.berichtsdaten import (
    Ampelzaehlung,
    Strukturaenderung,
    UeberfaelligesProjekt,
    ampel_verlauf_zu,
    stelle_wochenbericht_zusammen,
)
from modelle.stand import STRUKTURFOLGE, ampel_aus, gueltig, neueste_meldung, zeitpunkt_parameter
from modelle.tabellen import Statusmeldung, Strategieprojekt, Themenfeld
from modelle.werte import Ampel

if TYPE_CHECKING:
    from sqlalchemy import Select

    _Abfrage = Select[*tuple[Any, ...]]

# Bis zu so vielen Tagen zeigt der Verlauf jede Woche, darüber jeden Monat: 26 Säulen lesen
# sich noch, 52 nicht mehr.
WOCHENWEISE_BIS_TAGE = 183


@dataclass(frozen=True, slots=True)
class Herausforderung:
    """Eine im Zeitraum gemeldete Herausforderung, beim ersten Mal, als sie so gemeldet wurde."""

    projekt_slug: str
    projekt_titel: str
    zeitpunkt: dt.datetime
    ampel: Ampel
    text: str


@dataclass(frozen=True, slots=True)
class Ampelschritt:
    alt: Ampel
    neu: Ampel
    # Die Meldung, mit der die Ampel umsprang.
    zeitpunkt: dt.datetime


@dataclass(frozen=True, slots=True)
class Projektverlauf:
    """Jeder Ampelwechsel eines Projekts im Zeitraum, in zeitlicher Folge (mindestens einer).

    Über ein Jahr zählt jeder Wechsel, auch grün → gelb → grün: Die Stabsstelle will wissen,
    wann es hakte, nicht nur, wie es am Ende steht. Der erste Stand eines neuen Projekts ist
    kein Wechsel, erst der nächste andere.
    """

    projekt_slug: str
    projekt_titel: str
    schritte: tuple[Ampelschritt, ...]

    @property
    def anfang(self) -> Ampel:
        return self.schritte[0].alt

    @property
    def ende(self) -> Ampel:
        return self.schritte[-1].neu


@dataclass(frozen=True, slots=True)
class Abschluss:
    """Ein Projekt, das am Ende des Zeitraums abgeschlossen ist und zu Beginn nicht war."""

    projekt_slug: str
    projekt_titel: str
    # Die Meldung, mit der es abgeschlossen wurde.
    zeitpunkt: dt.datetime


@dataclass(frozen=True, slots=True)
class Kapitelfeld:
    slug: str
    name: str
    # Je Stichtag (`Klimaberichtkapitel.stichtage`) die heute aktiven Projekte; der erste ist der
    # Stand zu Beginn, der letzte der am Ende.
    verlauf: tuple[Ampelzaehlung, ...]
    # Im Zeitraum abgeschlossen, auch wenn das Projekt erst im Zeitraum aufgenommen wurde.
    abgeschlossen: tuple[Abschluss, ...]
    # Die Projekte, deren Ampel im Zeitraum wechselte, mit jedem Wechsel.
    wechsel: tuple[Projektverlauf, ...]
    herausforderungen: tuple[Herausforderung, ...]
    ueberfaellig: tuple[UeberfaelligesProjekt, ...]
    neu: tuple[Strukturaenderung, ...]

    @property
    def anfang(self) -> Ampelzaehlung:
        return self.verlauf[0]

    @property
    def ende(self) -> Ampelzaehlung:
        return self.verlauf[-1]

    @property
    def projekte(self) -> int:
        return sum(self.ende.ampeln.values()) + self.ende.ohne_meldung

    @property
    def anzahl_wechsel(self) -> int:
        return sum(len(v.schritte) for v in self.wechsel)


@dataclass(frozen=True, slots=True)
class Klimaberichtkapitel:
    """Das Kapitel über (`von`, `bis`]."""

    von: dt.datetime
    bis: dt.datetime
    # Ältester zuerst; der erste ist `von`, der letzte `bis`.
    stichtage: tuple[dt.datetime, ...]
    felder: tuple[Kapitelfeld, ...]

    @property
    def monatsweise(self) -> bool:
        return (self.bis - self.von).days > WOCHENWEISE_BIS_TAGE

    @property
    def anzahl_abgeschlossen(self) -> int:
        return sum(len(f.abgeschlossen) for f in self.felder)

    @property
    def anzahl_wechsel(self) -> int:
        return sum(f.anzahl_wechsel for f in self.felder)

    @property
    def anzahl_herausforderungen(self) -> int:
        return sum(len(f.herausforderungen) for f in self.felder)


def stichtage_fuer(
    von: dt.datetime, bis: dt.datetime, zeitzone: dt.tzinfo
) -> tuple[dt.datetime, ...]:
    """Die Stichtage des Verlaufs: `von`, dazwischen jedes Wochenende vor `bis` (bis zu einem
    halben Jahr) oder jeder Monatsanfang (darüber), und `bis` – in Ortszeit."""
    anfang = von.astimezone(zeitzone)
    ende = bis.astimezone(zeitzone)
    dazwischen: list[dt.datetime] = []
    if (ende - anfang).days <= WOCHENWEISE_BIS_TAGE:
        # Wie im Wochenbericht: derselbe Wochentag zur selben Ortszeit wie `bis`.
        tag = ende - dt.timedelta(weeks=1)
        while tag > anfang:
            dazwischen.append(tag)
            tag -= dt.timedelta(weeks=1)
        dazwischen.reverse()
    else:
        monat = dt.datetime(anfang.year, anfang.month, 1, tzinfo=zeitzone)
        while True:
            jahr, nummer = divmod(monat.month, 12)
            monat = dt.datetime(monat.year + jahr, nummer + 1, 1, tzinfo=zeitzone)
            if monat >= ende:
                break
            dazwischen.append(monat)
    return (anfang, *dazwischen, ende)


async def stelle_kapitel_zusammen(
    sitzung: AsyncSession, *, von: dt.datetime, bis: dt.datetime, zeitzone: dt.tzinfo
) -> Klimaberichtkapitel:
    """Das Kapitel über (`von`, `bis`] für alle aktiven Themenfelder; die Zahl der Abfragen hängt
    nicht von der Zahl der Projekte oder Meldungen ab."""
    bericht = await stelle_wochenbericht_zusammen(sitzung, von=von, bis=bis)
    stichtage = stichtage_fuer(von, bis, zeitzone)
    verlauf = {
        f.themenfeld_slug: f.zaehlungen for f in (await ampel_verlauf_zu(sitzung, stichtage)).felder
    }
    geschehen = await _im_zeitraum(sitzung, von=von, bis=bis)
    felder = []
    for feld in bericht.felder:
        zaehlungen = verlauf.get(feld.themenfeld_slug)
        if zaehlungen is None:  # zwischen den Abfragen angelegt: kommt beim nächsten Mal
            continue
        eigenes = geschehen.get(feld.themenfeld_slug, _Feldgeschehen())
        felder.append(
            Kapitelfeld(
                slug=feld.themenfeld_slug,
                name=feld.themenfeld_name,
                verlauf=zaehlungen,
                abgeschlossen=tuple(eigenes.abschluesse),
                wechsel=tuple(eigenes.verlaeufe),
                herausforderungen=tuple(
                    sorted(eigenes.herausforderungen, key=lambda h: h.zeitpunkt)
                ),
                ueberfaellig=feld.ueberfaellig,
                neu=feld.neu,
            )
        )
    return Klimaberichtkapitel(von=von, bis=bis, stichtage=stichtage, felder=tuple(felder))


@dataclass(slots=True)
class _Feldgeschehen:
    verlaeufe: list[Projektverlauf] = field(default_factory=list)
    abschluesse: list[Abschluss] = field(default_factory=list)
    herausforderungen: list[Herausforderung] = field(default_factory=list)


async def _im_zeitraum(
    sitzung: AsyncSession, *, von: dt.datetime, bis: dt.datetime
) -> dict[str, _Feldgeschehen]:
    """Je Themenfeld-Slug, was die gültigen Meldungen in (`von`, `bis`] erzählen, in zwei
    Abfragen (der Stand zu `von` je Projekt, ein Indexabstieg je Projekt; die Meldungen im
    Zeitraum), alles Weitere in Python, Projekt für Projekt in der Reihenfolge der Struktur:

    - jeder Ampelwechsel; der erste Stand eines neuen Projekts ist keiner;
    - der Abschluss, wenn das Projekt am Ende abgeschlossen ist und zu Beginn nicht war – wie
      `modelle.wechsel.ampel_wechsel`, aber auch für im Zeitraum aufgenommene Projekte, und mit
      der Meldung, mit der es in diesen Stand kam;
    - jede Herausforderung einmal: Meldet ein Projekt dieselbe Woche für Woche, zählt der Tag, an
      dem sie zuerst so gemeldet wurde.

    Archivierte Projekte zählen mit: Was geschah, geschah.
    """
    vorher: dict[int, Ampel | None] = {
        projekt_id: ampel_aus(ampel)
        for projekt_id, ampel in await sitzung.execute(_stand_zu_abfrage(), {"von": von})
    }
    zeilen = await sitzung.execute(_meldungen_abfrage(), {"von": von, "bis": bis})
    ergebnis: dict[str, _Feldgeschehen] = {}
    for (projekt_id, slug, titel, feld_slug), meldungen in itertools.groupby(
        zeilen, lambda z: (z[0], z[1], z[2], z[3])
    ):
        geschehen = ergebnis.setdefault(feld_slug, _Feldgeschehen())
        anfang = zuletzt = vorher.get(projekt_id)
        seit: dt.datetime | None = None  # erste Meldung des letzten Stands
        schritte: list[Ampelschritt] = []
        gemeldet: str | None = None
        for *_, zeitpunkt, wert, herausforderung in meldungen:
            ampel = Ampel(wert)
            if ampel is not zuletzt:
                seit = zeitpunkt
                if zuletzt is not None:
                    schritte.append(Ampelschritt(alt=zuletzt, neu=ampel, zeitpunkt=zeitpunkt))
            zuletzt = ampel
            text = " ".join((herausforderung or "").split())
            if text and text != gemeldet:
                geschehen.herausforderungen.append(
                    Herausforderung(slug, titel, zeitpunkt, ampel, text)
                )
                gemeldet = text
        if schritte:
            geschehen.verlaeufe.append(Projektverlauf(slug, titel, tuple(schritte)))
        if zuletzt is Ampel.ABGESCHLOSSEN and anfang is not Ampel.ABGESCHLOSSEN:
            assert seit is not None  # der Stand wechselte im Zeitraum
            geschehen.abschluesse.append(Abschluss(slug, titel, seit))
    return ergebnis


@functools.cache
def _stand_zu_abfrage() -> _Abfrage:
    return select(
        Strategieprojekt.id,
        neueste_meldung(Statusmeldung.ampel, bis=zeitpunkt_parameter("von")),
    )


@functools.cache
def _meldungen_abfrage() -> _Abfrage:
    # Nach der Struktur geordnet, darin je Projekt zeitlich: `groupby` oben braucht die
    # Meldungen eines Projekts beieinander und in ihrer Folge.
    return (
        select(
            Strategieprojekt.id,
            Strategieprojekt.slug,
            Strategieprojekt.titel,
            Themenfeld.slug,
            Statusmeldung.zeitpunkt,
            Statusmeldung.ampel,
            Statusmeldung.herausforderungen,
        )
        .join(Strategieprojekt, Strategieprojekt.id == Statusmeldung.projekt_id)
        .join(Themenfeld, Themenfeld.id == Strategieprojekt.themenfeld_id)
        .where(
            gueltig(Statusmeldung),
            Statusmeldung.zeitpunkt > zeitpunkt_parameter("von"),
            Statusmeldung.zeitpunkt <= zeitpunkt_parameter("bis"),
        )
        .order_by(*STRUKTURFOLGE, Statusmeldung.zeitpunkt, Statusmeldung.id)
    )
