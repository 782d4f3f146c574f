"""Das Kapitel für den Klimabericht als Daten: was ein Zeitraum (meist ein Jahr) je Themenfeld
gebracht hat – abgeschlossene Projekte, Ampelwechsel, die gemeldeten Herausforderungen und den
Verlauf der Ampeln über den Zeitraum.

Das Kapitel ist für die Veröffentlichung gedacht: Es nennt keine Personen und keine
Matrix-IDs. Freitext enthält es nur, wo das Issue ihn verlangt – die Herausforderungen, die
Pat*innen und Koordinator*innen gemeldet haben; was davon in den gedruckten Bericht geht,
entscheidet die Stabsstelle beim Redigieren.

Gezählt wird wie im Wochenbericht (`modelle.berichtsdaten`), dessen Zusammenstellung das
Kapitel für Stände, Überfälliges und neue Projekte wiederverwendet; hinzu kommen die
Ampelwechsel samt neuer Projekte, die Herausforderungen und die Ampeln an den Stichtagen.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from modelle.berichtsdaten import (
    Ampelzaehlung,
    Strukturaenderung,
    UeberfaelligesProjekt,
    ampel_verlauf_zu,
    stelle_wochenbericht_zusammen,
)
from modelle.stand import gueltig, zeitpunkt_parameter
from modelle.tabellen import Statusmeldung, Strategieprojekt, Themenfeld
from modelle.wechsel import Ampelwechsel, ampel_wechsel
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
class Kapitelfeld:
    slug: str
    name: str
    # Stand am Anfang und am Ende des Zeitraums (die heute aktiven Projekte).
    anfang: Ampelzaehlung
    ende: Ampelzaehlung
    # Je Stichtag (`Klimaberichtkapitel.stichtage`).
    verlauf: tuple[Ampelzaehlung, ...]
    # Im Zeitraum abgeschlossen, auch wenn das Projekt erst im Zeitraum aufgenommen wurde.
    abgeschlossen: tuple[Ampelwechsel, ...]
    # Alle anderen Projekte, deren Ampel am Ende anders steht als zu Beginn; neue Projekte
    # (zu Beginn ohne Meldung) nennt `neu`.
    wechsel: tuple[Ampelwechsel, ...]
    herausforderungen: tuple[Herausforderung, ...]
    ueberfaellig: tuple[UeberfaelligesProjekt, ...]
    neu: tuple[Strukturaenderung, ...]

    @property
    def projekte(self) -> int:
        return sum(self.ende.ampeln.values()) + self.ende.ohne_meldung


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
        return sum(len(f.wechsel) for f in self.felder)

    @property
    def anzahl_herausforderungen(self) -> int:
        return sum(len(f.herausforderungen) for f in self.felder)

    @property
    def ende(self) -> dict[Ampel | None, int]:
        """Alle Felder zusammen am Ende: je Ampel, `None` für ohne Meldung."""
        summe: dict[Ampel | None, int] = {a: 0 for a in Ampel}
        summe[None] = 0
        for feld in self.felder:
            for ampel in Ampel:
                summe[ampel] += feld.ende.ampeln.get(ampel, 0)
            summe[None] += feld.ende.ohne_meldung
        return summe


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
    herausforderungen = await gemeldete_herausforderungen(sitzung, von=von, bis=bis)
    # Nicht die Wechsel des Wochenberichts: Der lässt die neuer Projekte weg, und über ein
    # Jahr ist manches Projekt im Zeitraum aufgenommen *und* abgeschlossen worden.
    wechsel: dict[str, list[Ampelwechsel]] = {}
    for eintrag in await ampel_wechsel(sitzung, von, bis):
        wechsel.setdefault(eintrag.themenfeld_slug, []).append(eintrag)
    felder = []
    for feld in bericht.felder:
        zaehlungen = verlauf.get(feld.themenfeld_slug)
        if zaehlungen is None:  # zwischen den Abfragen angelegt: kommt beim nächsten Mal
            continue
        felder.append(
            Kapitelfeld(
                slug=feld.themenfeld_slug,
                name=feld.themenfeld_name,
                anfang=zaehlungen[0],
                ende=Ampelzaehlung(ampeln=dict(feld.ampeln), ohne_meldung=feld.ohne_meldung),
                verlauf=zaehlungen,
                abgeschlossen=tuple(
                    w for w in wechsel.get(feld.themenfeld_slug, ()) if w.neu is Ampel.ABGESCHLOSSEN
                ),
                wechsel=tuple(
                    w
                    for w in wechsel.get(feld.themenfeld_slug, ())
                    if w.neu is not Ampel.ABGESCHLOSSEN and w.alt is not None
                ),
                herausforderungen=tuple(herausforderungen.get(feld.themenfeld_slug, ())),
                ueberfaellig=feld.ueberfaellig,
                neu=feld.neu,
            )
        )
    return Klimaberichtkapitel(von=von, bis=bis, stichtage=stichtage, felder=tuple(felder))


async def gemeldete_herausforderungen(
    sitzung: AsyncSession, *, von: dt.datetime, bis: dt.datetime
) -> dict[str, list[Herausforderung]]:
    """Je Themenfeld-Slug die Herausforderungen aus gültigen Meldungen in (`von`, `bis`], in
    zeitlicher Folge. Meldet ein Projekt dieselbe Herausforderung Woche für Woche, steht sie
    einmal da, mit dem Tag, an dem sie zuerst so gemeldet wurde; auch archivierte Projekte
    zählen – die Herausforderung war da."""
    ergebnis: dict[str, list[Herausforderung]] = {}
    zuletzt: dict[int, str] = {}
    for projekt_id, slug, titel, feld_slug, zeitpunkt, ampel, text in await sitzung.execute(
        _herausforderungen_abfrage(), {"von": von, "bis": bis}
    ):
        text = " ".join(text.split())
        if not text or zuletzt.get(projekt_id) == text:
            continue
        zuletzt[projekt_id] = text
        ergebnis.setdefault(feld_slug, []).append(
            Herausforderung(
                projekt_slug=slug,
                projekt_titel=titel,
                zeitpunkt=zeitpunkt,
                ampel=Ampel(ampel),
                text=text,
            )
        )
    return ergebnis


@functools.cache
def _herausforderungen_abfrage() -> _Abfrage:
    return (
        select(
            Statusmeldung.projekt_id,
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
            func.length(func.trim(Statusmeldung.herausforderungen)) > 0,
        )
        .order_by(Statusmeldung.zeitpunkt, Statusmeldung.id)
    )
