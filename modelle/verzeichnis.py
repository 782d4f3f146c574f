"""Ein Schnappschuss der aktiven Struktur: Themenfelder, Projekte, Personen, Rollen, Räume.

Befehle brauchen ihn für jede Namensauflösung und Berechtigungsprüfung; er wird mit
einer festen Zahl von Abfragen geladen, unabhängig von der Größe der Struktur.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from modelle.stand import Felduebersicht, Projektstand, feld_uebersicht, letzte_meldungen
from modelle.tabellen import (
    Person,
    Raum,
    Rollenzuweisung,
    Strategieprojekt,
    Strukturstand,
    Themenfeld,
)
from modelle.werte import Rolle

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FeldEintrag:
    id: int
    slug: str
    name: str
    aliase: tuple[str, ...]
    abfrage: str | None
    ueberfaellig_nach_tagen: int
    raum_adresse: str | None = None
    raum_id: str | None = None


@dataclass(frozen=True, slots=True)
class ProjektEintrag:
    id: int
    slug: str
    titel: str
    aliase: tuple[str, ...]
    themenfeld_id: int


@dataclass(frozen=True, slots=True)
class PersonEintrag:
    id: int
    matrix_id: str
    anzeigename: str


@dataclass(frozen=True, slots=True)
class Verzeichnis:
    felder: tuple[FeldEintrag, ...]
    projekte: tuple[ProjektEintrag, ...]
    personen: dict[str, PersonEintrag]
    # (matrix_id, Rolle, themenfeld_id oder None für die Stabsstelle)
    rollen: tuple[tuple[str, Rolle, int | None], ...]
    # Die Raum-ID gibt es erst, wenn der Bot im Raum ist; die Adresse, sobald er konfiguriert ist.
    stabsstelle_raum_id: str | None = None
    stabsstelle_raum_adresse: str | None = None
    _felder_nach_id: dict[int, FeldEintrag] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._felder_nach_id.update({f.id: f for f in self.felder})

    def feld(self, feld_id: int) -> FeldEintrag | None:
        return self._felder_nach_id.get(feld_id)

    def ist_strukturraum(self, raum_id: str) -> bool:
        """Ist dies der Raum eines aktiven Themenfelds oder der Stabsstelle?"""
        return self.feld_von_raum(raum_id) is not None or raum_id in (
            self.stabsstelle_raum_id,
            self.stabsstelle_raum_adresse,
        )

    def feld_von_raum(self, raum_id: str) -> FeldEintrag | None:
        return next((f for f in self.felder if raum_id in (f.raum_id, f.raum_adresse)), None)

    def projekte_von(self, feld_id: int) -> list[ProjektEintrag]:
        return [p for p in self.projekte if p.themenfeld_id == feld_id]

    def personen_mit(self, rolle: Rolle, feld_id: int | None = None) -> list[PersonEintrag]:
        return [
            self.personen[m]
            for m, r, f in self.rollen
            if r is rolle and (rolle is Rolle.STABSSTELLE or f == feld_id)
        ]

    def rollen_von(self, matrix_id: str) -> list[tuple[Rolle, int | None]]:
        return [(r, f) for m, r, f in self.rollen if m == matrix_id]


async def lade_verzeichnis(sitzung: AsyncSession) -> Verzeichnis:
    felder = (
        await sitzung.execute(
            select(Themenfeld, Raum.adresse, Raum.raum_id)
            .outerjoin(Raum, Raum.themenfeld_id == Themenfeld.id)
            .where(Themenfeld.archiviert.is_(False))
            .order_by(Themenfeld.reihenfolge, Themenfeld.id)
        )
    ).all()
    projekte = (
        await sitzung.scalars(
            select(Strategieprojekt)
            .join(Themenfeld)
            .where(Strategieprojekt.archiviert.is_(False), Themenfeld.archiviert.is_(False))
            .order_by(Strategieprojekt.reihenfolge, Strategieprojekt.id)
        )
    ).all()
    zuweisungen = (
        await sitzung.execute(
            select(Person, Rollenzuweisung.rolle, Rollenzuweisung.themenfeld_id)
            .outerjoin(Rollenzuweisung, Rollenzuweisung.person_id == Person.id)
            .order_by(Person.anzeigename, Person.id)
        )
    ).all()
    stabsstelle_raum = (
        await sitzung.execute(
            select(Raum.raum_id, Raum.adresse).where(Raum.ist_stabsstelle.is_(True))
        )
    ).first()
    personen = {
        p.matrix_id: PersonEintrag(p.id, p.matrix_id, p.anzeigename) for p, _, _ in zuweisungen
    }
    aktive_felder = {f.id for f, _, _ in felder}
    return Verzeichnis(
        felder=tuple(
            FeldEintrag(
                id=f.id,
                slug=f.slug,
                name=f.name,
                aliase=tuple(f.aliase),
                abfrage=f.abfrage,
                ueberfaellig_nach_tagen=f.ueberfaellig_nach_tagen,
                raum_adresse=adresse,
                raum_id=raum_id,
            )
            for f, adresse, raum_id in felder
        ),
        projekte=tuple(
            ProjektEintrag(p.id, p.slug, p.titel, tuple(p.aliase), p.themenfeld_id)
            for p in projekte
        ),
        personen=personen,
        rollen=tuple(
            (p.matrix_id, Rolle(rolle), feld_id)
            for p, rolle, feld_id in zuweisungen
            if rolle is not None and (feld_id is None or feld_id in aktive_felder)
        ),
        stabsstelle_raum_id=stabsstelle_raum[0] if stabsstelle_raum else None,
        stabsstelle_raum_adresse=stabsstelle_raum[1] if stabsstelle_raum else None,
    )


# Einmal gebaut: die Abfrage liegt auf dem Weg jeder Antwort.
_STAND = select(Strukturstand.version, Strukturstand.meldungen).where(Strukturstand.id == 1)

# Liest (Strukturstand, Meldungsstand) ohne die Sitzung, etwa direkt aus der SQLite-Datei
# (`modelle.datenbank.standleser`); None: keine Zeile.
Standleser = Callable[[], tuple[int, int] | None]


class VerzeichnisSpeicher:
    """Das Lagebild im Speicher: das Verzeichnis, je Themenfeld die Stände seiner Projekte und
    die Übersicht über alle Felder.

    Trigger zählen jede Änderung der Struktur und jede an Statusmeldungen in `strukturstand`
    mit, auch aus anderen Prozessen. `hole` liest beide Zähler vor allem anderen: Was danach
    geladen wird, ist mindestens so neu; schlimmstenfalls wird beim nächsten Mal unnötig neu
    geladen, nie Veraltetes behalten. Ändert sich die Struktur, wird das Verzeichnis neu
    geladen; ändert sich irgendetwas, vergisst das Lagebild die Stände.

    Mit `standleser` liest es die Zähler ohne Anweisung über die Sitzung (SQLite: eine eigene
    Verbindung, Mikrosekunden statt vier Übergaben an den Thread von aiosqlite); scheitert
    er, liest es über die Sitzung.
    """

    def __init__(self, standleser: Standleser | None = None) -> None:
        self._standleser = standleser
        self._stand: tuple[int, int] | None = None
        self._verzeichnis: Verzeichnis | None = None
        self._feldstaende: dict[int, list[Projektstand]] = {}
        self._uebersicht: list[Felduebersicht] | None = None

    async def hole(self, sitzung: AsyncSession) -> Verzeichnis:
        stand = await self._lies_stand(sitzung)
        if stand != self._stand:
            self._feldstaende.clear()
            self._uebersicht = None
        if (
            stand is None
            or self._stand is None
            or stand[0] != self._stand[0]
            or self._verzeichnis is None
        ):
            self._verzeichnis = await lade_verzeichnis(sitzung)
        self._stand = stand
        return self._verzeichnis

    async def letzte_meldungen(
        self, sitzung: AsyncSession, themenfeld_id: int
    ) -> list[Projektstand]:
        """`modelle.stand.letzte_meldungen` zum Stand des letzten `hole` – aus dem Lagebild,
        solange sich seither nichts geändert hat. Nur für Lesende: Wer in derselben
        Transaktion schreibt, sieht hier nicht, was er schrieb."""
        if self._stand is None:
            return await letzte_meldungen(sitzung, themenfeld_id)
        staende = self._feldstaende.get(themenfeld_id)
        if staende is None:
            staende = self._feldstaende[themenfeld_id] = await letzte_meldungen(
                sitzung, themenfeld_id
            )
        return list(staende)

    async def feld_uebersicht(self, sitzung: AsyncSession) -> list[Felduebersicht]:
        """`modelle.stand.feld_uebersicht` zum Stand des letzten `hole`, wie `letzte_meldungen`."""
        if self._stand is None:
            return await feld_uebersicht(sitzung)
        if self._uebersicht is None:
            self._uebersicht = await feld_uebersicht(sitzung)
        return list(self._uebersicht)

    async def _lies_stand(self, sitzung: AsyncSession) -> tuple[int, int] | None:
        if self._standleser is not None:
            try:
                return self._standleser()
            except Exception as fehler:
                log.warning("Stand nicht direkt lesbar (%s); über die Sitzung", fehler)
                self._standleser = None
        zeile = (await sitzung.execute(_STAND)).first()
        return None if zeile is None else (zeile[0], zeile[1])
