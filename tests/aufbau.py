"""Kleine Bestände Zeile für Zeile, für Tests, die je eine Regel der Abfragen belegen."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from modelle.datenbank import Sitzungsfabrik
from modelle.tabellen import Person, Statusmeldung, Strategieprojekt, Themenfeld
from modelle.werte import Ampel, Quelle

# Die Uhr der kleinen Bestände: Tag 0 ist ein Montag, `tag(n)` n Tage danach.
MONTAG = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
GRUEN, GELB, ROT, FERTIG = Ampel.GRUEN, Ampel.GELB, Ampel.ROT, Ampel.ABGESCHLOSSEN


def tag(n: float) -> dt.datetime:
    return MONTAG + dt.timedelta(days=n)


@dataclass(frozen=True)
class Archivbestand:
    """Die Ids eines Bestands mit Archiviertem: im aktiven Feld `energie` ein aktives und ein
    archiviertes Projekt, dazu das archivierte Feld `altlasten` mit einem Projekt."""

    energie: int
    alt: int
    aktiv: int
    ruhend: int
    im_alten_feld: int


class Aufbau:
    """Baut kleine Bestände Zeile für Zeile; gibt die Ids zurück."""

    def __init__(self, sitzungen: Sitzungsfabrik) -> None:
        self.sitzungen = sitzungen

    async def _neu(self, objekt: Any) -> int:
        async with self.sitzungen.begin() as sitzung:
            sitzung.add(objekt)
            await sitzung.flush()
            kennung: int = objekt.id
            return kennung

    async def feld(
        self, slug: str, *, reihenfolge: int = 0, archiviert: bool = False, frist: int = 14
    ) -> int:
        return await self._neu(
            Themenfeld(
                slug=slug,
                name=slug.capitalize(),
                reihenfolge=reihenfolge,
                archiviert=archiviert,
                ueberfaellig_nach_tagen=frist,
            )
        )

    async def projekt(
        self, slug: str, feld_id: int, *, reihenfolge: int = 0, archiviert: bool = False
    ) -> int:
        return await self._neu(
            Strategieprojekt(
                slug=slug,
                titel=slug.capitalize(),
                themenfeld_id=feld_id,
                reihenfolge=reihenfolge,
                archiviert=archiviert,
            )
        )

    async def person(self, name: str) -> int:
        return await self._neu(Person(matrix_id=f"@{name.lower()}:example.org", anzeigename=name))

    async def meldung(
        self,
        projekt_id: int,
        ampel: Ampel,
        zeitpunkt: dt.datetime,
        *,
        text: str = "",
        autor_id: int | None = None,
        zurueckgezogen: bool = False,
        kennung: int | None = None,
        quelle: Quelle = Quelle.BEFEHL,
        fortschritt: int | None = None,
        herausforderungen: str | None = None,
    ) -> int:
        return await self._neu(
            Statusmeldung(
                id=kennung,
                projekt_id=projekt_id,
                ampel=ampel,
                zeitpunkt=zeitpunkt,
                text=text,
                autor_id=autor_id,
                zurueckgezogen=zurueckgezogen,
                quelle=quelle,
                fortschritt=fortschritt,
                herausforderungen=herausforderungen,
            )
        )

    async def archivbestand(self, zeitpunkt: dt.datetime) -> Archivbestand:
        """Legt den `Archivbestand` an; jedes seiner Projekte meldet zu `zeitpunkt` rot."""
        energie = await self.feld("energie")
        alt = await self.feld("altlasten", archiviert=True)
        aktiv = await self.projekt("aktiv", energie)
        ruhend = await self.projekt("ruhend", energie, archiviert=True)
        im_alten_feld = await self.projekt("im-alten-feld", alt)
        for projekt in (aktiv, ruhend, im_alten_feld):
            await self.meldung(projekt, Ampel.ROT, zeitpunkt)
        return Archivbestand(energie, alt, aktiv, ruhend, im_alten_feld)

    async def mit_zurueckgezogener_meldung(self, gilt_seit: dt.datetime) -> tuple[int, int]:
        """Feld `energie` mit Projekt `waermeplanung`: grün „gilt“ zu `gilt_seit`, fünf Tage
        später rot „gelöscht“, aber zurückgezogen. Gibt die Ids von Feld und Projekt zurück."""
        energie = await self.feld("energie")
        waerme = await self.projekt("waermeplanung", energie)
        await self.meldung(waerme, Ampel.GRUEN, gilt_seit, text="gilt")
        await self.meldung(
            waerme,
            Ampel.ROT,
            gilt_seit + dt.timedelta(days=5),
            text="gelöscht",
            zurueckgezogen=True,
        )
        return energie, waerme
