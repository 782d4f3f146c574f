"""Was das Klimadashboard zeigt: je Themenfeld die Ampeln jetzt und über die letzten Wochen, je
Projekt Ampel, Fortschritt, Alter der letzten Meldung und Herausforderung.

Zwei Fassungen. Die öffentliche (Vorgabe) enthält nur, was aus der Struktur stammt (Namen der
Felder, Titel der Projekte) und Zahlen: keine Personen, keine Matrix-IDs, keine Freitexte aus
Meldungen. Die interne (`intern=True`) zeigt dazu die Herausforderung der neuesten Meldung und
wer sie schrieb. Die Entscheidung fällt hier, nicht in der Vorlage: Was die öffentliche Fassung
nicht zeigen darf, ist in ihren Daten gar nicht erst enthalten.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from modelle.berichtsdaten import Ampelzaehlung, ampel_verlauf
from modelle.stand import Projektstand, alle_letzten_meldungen
from modelle.versand import ueberfaellige_projekte
from modelle.werte import Ampel

WOCHEN = 12


@dataclass(frozen=True, slots=True)
class Dashboardprojekt:
    slug: str
    titel: str
    ampel: Ampel | None
    fortschritt: int | None
    # Zeitpunkt der neuesten Meldung; None, wenn es nur den Anfangsstand gibt oder gar keine.
    letzte_meldung: dt.datetime | None
    ueberfaellig: bool
    # Nur intern: die Herausforderung der neuesten Meldung und wer sie schrieb.
    herausforderung: str | None = None
    autor: str | None = None

    @property
    def abgeschlossen(self) -> bool:
        return self.ampel is Ampel.ABGESCHLOSSEN


@dataclass(frozen=True, slots=True)
class Dashboardfeld:
    slug: str
    name: str
    projekte: tuple[Dashboardprojekt, ...]
    # Je Stichtag (`Dashboard.stichtage`) die Ampeln der aktiven Projekte; der letzte ist jetzt.
    verlauf: tuple[Ampelzaehlung, ...]

    @property
    def ampeln(self) -> Mapping[Ampel, int]:
        return self.verlauf[-1].ampeln

    @property
    def ohne_meldung(self) -> int:
        return self.verlauf[-1].ohne_meldung


@dataclass(frozen=True, slots=True)
class Dashboard:
    stand: dt.datetime
    stichtage: tuple[dt.datetime, ...]
    felder: tuple[Dashboardfeld, ...]
    intern: bool

    @property
    def abgeschlossene(self) -> list[tuple[Dashboardfeld, Dashboardprojekt]]:
        return [(f, p) for f in self.felder for p in f.projekte if p.abgeschlossen]

    @property
    def ueberfaellige(self) -> list[tuple[Dashboardfeld, Dashboardprojekt]]:
        return [(f, p) for f in self.felder for p in f.projekte if p.ueberfaellig]


async def stelle_dashboard_zusammen(
    sitzung: AsyncSession,
    *,
    jetzt: dt.datetime,
    zeitzone: dt.tzinfo,
    wochen: int = WOCHEN,
    intern: bool = False,
) -> Dashboard:
    """Das Dashboard zum Zeitpunkt `jetzt`: vier Abfragen, gleich wie viele Felder und Projekte."""
    verlauf = await ampel_verlauf(sitzung, bis=jetzt, wochen=wochen, zeitzone=zeitzone)
    staende = await alle_letzten_meldungen(sitzung)
    ueberfaellig = {u.projekt_id for u in await ueberfaellige_projekte(sitzung, jetzt=jetzt)}
    je_feld: dict[str, list[Dashboardprojekt]] = {}
    for stand in staende:
        je_feld.setdefault(stand.themenfeld_slug, []).append(
            _projekt(stand, stand.projekt_id in ueberfaellig, intern=intern)
        )
    return Dashboard(
        stand=jetzt,
        stichtage=verlauf.stichtage,
        felder=tuple(
            Dashboardfeld(
                slug=feld.themenfeld_slug,
                name=feld.themenfeld_name,
                projekte=tuple(je_feld.get(feld.themenfeld_slug, ())),
                verlauf=feld.zaehlungen,
            )
            for feld in verlauf.felder
        ),
        intern=intern,
    )


def _projekt(stand: Projektstand, ueberfaellig: bool, *, intern: bool) -> Dashboardprojekt:
    return Dashboardprojekt(
        slug=stand.projekt_slug,
        titel=stand.projekt_titel,
        ampel=stand.ampel,
        fortschritt=stand.fortschritt,
        letzte_meldung=None if stand.ist_anfangsstand else stand.zeitpunkt,
        ueberfaellig=ueberfaellig,
        herausforderung=stand.herausforderungen if intern else None,
        autor=stand.autor if intern and not stand.ist_anfangsstand else None,
    )
