"""Ein realistischer Datenbestand in Menge: Themenfelder, Projekte und Jahre an Wochenmeldungen.

Der Bestand entsteht deterministisch aus einem Startwert und liegt zuerst als einfache
Python-Werte vor; `Bestand.einfuegen` schreibt ihn in Massen-INSERTs in die Datenbank. Die
Tests rechnen daraus ihre Erwartungen nach (`tests/daten.py`), die Bank misst auf ihm.

Ids werden ausdrücklich vergeben, für Meldungen in zufälliger Reihenfolge: so hängt keine
Abfrage davon ab, dass spätere Meldungen zufällig auch höhere Ids haben.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from modelle.tabellen import Person, Statusmeldung, Strategieprojekt, Themenfeld
from modelle.werte import Ampel, Quelle

BEGINN = dt.datetime(2023, 1, 2, 8, 0, tzinfo=dt.UTC)  # ein Montag
FARBEN = (Ampel.GRUEN, Ampel.GELB, Ampel.ROT)


@dataclass(frozen=True, slots=True)
class Feld:
    id: int
    slug: str
    name: str
    reihenfolge: int
    archiviert: bool
    ueberfaellig_nach_tagen: int


@dataclass(frozen=True, slots=True)
class Projekt:
    id: int
    slug: str
    titel: str
    themenfeld_id: int
    reihenfolge: int
    archiviert: bool


@dataclass(frozen=True, slots=True)
class Autor:
    id: int
    matrix_id: str
    anzeigename: str


@dataclass(frozen=True, slots=True)
class Meldung:
    id: int
    projekt_id: int
    autor_id: int | None
    zeitpunkt: dt.datetime
    ampel: Ampel
    fortschritt: int | None
    text: str
    herausforderungen: str | None
    quelle: Quelle
    zurueckgezogen: bool

    @property
    def reihung(self) -> tuple[dt.datetime, int]:
        """Spätere Meldung = größerer Wert: Zeitpunkt, bei Gleichstand die Id."""
        return (self.zeitpunkt, self.id)


@dataclass(slots=True)
class Bestand:
    felder: list[Feld] = field(default_factory=list)
    projekte: list[Projekt] = field(default_factory=list)
    autoren: list[Autor] = field(default_factory=list)
    meldungen: list[Meldung] = field(default_factory=list)

    async def einfuegen(self, verbindung: AsyncConnection) -> None:
        """Alles in vier Massen-INSERTs (executemany), ohne ORM-Einheiten je Zeile."""
        await verbindung.execute(
            insert(Themenfeld), [{**asdict(f), "aliase": []} for f in self.felder]
        )
        await verbindung.execute(insert(Person), [asdict(a) for a in self.autoren])
        await verbindung.execute(
            insert(Strategieprojekt),
            [{**asdict(p), "beschreibung": "", "aliase": []} for p in self.projekte],
        )
        await verbindung.execute(insert(Statusmeldung), [asdict(m) for m in self.meldungen])


def erzeuge_bestand(
    startwert: int = 2026,
    *,
    felder: int = 7,
    projekte_je_feld: int = 30,
    wochen: int = 156,
) -> Bestand:
    """Felder mit Projekten und wöchentlichen Meldungen über `wochen` Wochen.

    Dazu, was in echten Daten vorkommt: ein archiviertes Feld (mit Meldungen) und ein Feld
    ohne Projekte; archivierte Projekte; Projekte, die nie, spät oder nur bis zu einer Pause
    gemeldet haben; abgeschlossene Projekte (selten wieder geöffnet); zurückgezogene
    Meldungen; Meldungen ohne Autor (Import); zwei Meldungen zur selben Sekunde.
    """
    zufall = random.Random(startwert)
    bestand = Bestand()
    bestand.autoren = [
        Autor(id=i, matrix_id=f"@person{i}:example.org", anzeigename=f"Person {i}")
        for i in range(1, 21)
    ]
    feld_ids = list(range(1, felder + 3))
    # Reihenfolge absichtlich nicht wie die Ids, mit Gleichständen (dann entscheidet die Id).
    for feld_id in feld_ids:
        bestand.felder.append(
            Feld(
                id=feld_id,
                slug=f"feld{feld_id}",
                name=f"Themenfeld {feld_id}",
                reihenfolge=zufall.randrange(4),
                archiviert=feld_id == felder + 1,
                # Verschiedene Fristen, ohne die Zufallsfolge zu verschieben.
                ueberfaellig_nach_tagen=(7, 14, 30)[feld_id % 3],
            )
        )
    leeres_feld = felder + 2
    projekt_id = 0
    for feld in bestand.felder:
        if feld.id == leeres_feld:
            continue
        anzahl = projekte_je_feld if not feld.archiviert else 4
        for _ in range(anzahl):
            projekt_id += 1
            bestand.projekte.append(
                Projekt(
                    id=projekt_id,
                    slug=f"projekt{projekt_id}",
                    titel=f"Strategieprojekt {projekt_id}",
                    themenfeld_id=feld.id,
                    reihenfolge=zufall.randrange(10),
                    archiviert=zufall.random() < 0.07,
                )
            )
    entwuerfe: list[dict[str, object]] = []
    for projekt in bestand.projekte:
        entwuerfe.extend(_meldungen_eines_projekts(zufall, projekt.id, wochen))
    ids = list(range(1, len(entwuerfe) + 1))
    zufall.shuffle(ids)
    bestand.meldungen = [
        Meldung(id=meldung_id, **entwurf)  # type: ignore[arg-type]
        for meldung_id, entwurf in zip(ids, entwuerfe, strict=True)
    ]
    return bestand


def _meldungen_eines_projekts(
    zufall: random.Random, projekt_id: int, wochen: int
) -> Iterable[dict[str, object]]:
    if zufall.random() < 0.04:
        return  # nie gemeldet
    erste_woche = 0 if zufall.random() < 0.9 else zufall.randrange(wochen)
    letzte_woche = wochen if zufall.random() < 0.95 else zufall.randrange(erste_woche, wochen) + 1
    abschluss = zufall.randrange(erste_woche, wochen) if zufall.random() < 0.06 else None
    ampel = zufall.choice(FARBEN)
    fortschritt = 0
    for woche in range(erste_woche, letzte_woche):
        if zufall.random() < 0.03:
            continue  # diese Woche vergessen
        if abschluss is not None and woche > abschluss and zufall.random() > 0.01:
            continue  # abgeschlossen meldet nicht mehr, fast nie wird wieder geöffnet
        zeitpunkt = BEGINN + dt.timedelta(
            weeks=woche, minutes=zufall.randrange(3 * 24 * 60), seconds=zufall.randrange(60)
        )
        if woche == abschluss:
            ampel = Ampel.ABGESCHLOSSEN
        elif ampel is Ampel.ABGESCHLOSSEN or zufall.random() < 0.2:
            ampel = zufall.choice(FARBEN)
        fortschritt = min(100, fortschritt + zufall.randrange(3))
        yield _entwurf(zufall, projekt_id, zeitpunkt, ampel, fortschritt)
        zusatz = zufall.random()
        if zusatz < 0.02:
            # Reaktion und Befehl in derselben Sekunde: die spätere Id gewinnt.
            yield _entwurf(zufall, projekt_id, zeitpunkt, zufall.choice(FARBEN), fortschritt)
        elif zusatz < 0.1:
            # Eine Ergänzung ein bis zwei Tage später, oft mit anderer Farbe.
            spaeter = zeitpunkt + dt.timedelta(hours=zufall.randrange(24, 48))
            yield _entwurf(zufall, projekt_id, spaeter, zufall.choice(FARBEN), fortschritt)


def _entwurf(
    zufall: random.Random,
    projekt_id: int,
    zeitpunkt: dt.datetime,
    ampel: Ampel,
    fortschritt: int,
) -> dict[str, object]:
    quelle = zufall.choice(list(Quelle))
    return {
        "projekt_id": projekt_id,
        "autor_id": None if quelle is Quelle.IMPORT else zufall.randrange(1, 21),
        "zeitpunkt": zeitpunkt,
        "ampel": ampel,
        "fortschritt": None if zufall.random() < 0.1 else fortschritt,
        "text": f"Stand zu Projekt {projekt_id} am {zeitpunkt:%d.%m.%Y}",
        "herausforderungen": "Personal fehlt" if ampel in (Ampel.GELB, Ampel.ROT) else None,
        "quelle": quelle,
        "zurueckgezogen": zufall.random() < 0.03,
    }
