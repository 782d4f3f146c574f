"""Ein realistischer Datenbestand in Menge: Themenfelder, Projekte und Jahre an Wochenmeldungen.

Der Bestand entsteht deterministisch aus einem Startwert und liegt zuerst als einfache
Python-Werte vor. Daraus rechnet `Erwartung` jede Abfrage aus `modelle.stand` auf dem
einfachsten Weg nach (sortieren, filtern, in Schleifen), damit die Tests das Ergebnis der
SQL-Abfragen Wert für Wert vergleichen können.

Ids werden ausdrücklich vergeben, für Meldungen in zufälliger Reihenfolge: so hängt keine
Abfrage davon ab, dass spätere Meldungen zufällig auch höhere Ids haben.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from modelle.stand import (
    Ampelwechsel,
    Felduebersicht,
    Meldungseintrag,
    Projektstand,
)
from modelle.tabellen import Person, Statusmeldung, Strategieprojekt, Themenfeld
from modelle.versand import Ueberfaelligkeit
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


class Erwartung:
    """Die Ergebnisse der Abfragen, in schlichtem Python aus dem Bestand gerechnet."""

    def __init__(self, bestand: Bestand) -> None:
        self.felder = {f.id: f for f in bestand.felder}
        self.projekte = {p.id: p for p in bestand.projekte}
        self.autoren = {a.id: a.anzeigename for a in bestand.autoren}
        self.gueltige: dict[int, list[Meldung]] = {p.id: [] for p in bestand.projekte}
        for meldung in bestand.meldungen:
            if not meldung.zurueckgezogen:
                self.gueltige[meldung.projekt_id].append(meldung)
        for liste in self.gueltige.values():
            liste.sort(key=lambda m: m.reihung, reverse=True)

    def _autor(self, meldung: Meldung) -> str | None:
        return None if meldung.autor_id is None else self.autoren[meldung.autor_id]

    def neueste(self, projekt_id: int, bis: dt.datetime | None = None) -> Meldung | None:
        """Die neueste gültige Meldung des Projekts, mit `bis`: zu diesem Zeitpunkt."""
        for meldung in self.gueltige[projekt_id]:
            if bis is None or meldung.zeitpunkt <= bis:
                return meldung
        return None

    def _aktive_felder(self) -> list[Feld]:
        return sorted(
            (f for f in self.felder.values() if not f.archiviert),
            key=lambda f: (f.reihenfolge, f.id),
        )

    def _projekte(self, feld_id: int, *, auch_archivierte: bool = False) -> list[Projekt]:
        return sorted(
            (
                p
                for p in self.projekte.values()
                if p.themenfeld_id == feld_id and (auch_archivierte or not p.archiviert)
            ),
            key=lambda p: (p.reihenfolge, p.id),
        )

    def projektstand(self, projekt_id: int) -> Projektstand:
        projekt = self.projekte[projekt_id]
        feld = self.felder[projekt.themenfeld_id]
        stand = Projektstand(
            projekt_id=projekt.id,
            projekt_slug=projekt.slug,
            projekt_titel=projekt.titel,
            themenfeld_id=feld.id,
            themenfeld_slug=feld.slug,
            themenfeld_name=feld.name,
            archiviert=projekt.archiviert or feld.archiviert,
            meldung_id=None,
            ampel=None,
            fortschritt=None,
            text=None,
            herausforderungen=None,
            zeitpunkt=None,
            autor=None,
        )
        meldung = self.neueste(projekt_id)
        if meldung is None:
            return stand
        return replace(
            stand,
            meldung_id=meldung.id,
            ampel=meldung.ampel,
            fortschritt=meldung.fortschritt,
            text=meldung.text,
            herausforderungen=meldung.herausforderungen,
            zeitpunkt=meldung.zeitpunkt,
            autor=self._autor(meldung),
            quelle=meldung.quelle,
        )

    def letzte_meldungen(self, feld_id: int) -> list[Projektstand]:
        if self.felder[feld_id].archiviert:
            return []
        return [self.projektstand(p.id) for p in self._projekte(feld_id)]

    def feld_uebersicht(self) -> list[Felduebersicht]:
        ergebnis = []
        for feld in self._aktive_felder():
            ampeln: Counter[Ampel] = Counter({ampel: 0 for ampel in Ampel})
            ohne = 0
            laufende: list[dt.datetime] = []
            for projekt in self._projekte(feld.id):
                meldung = self.neueste(projekt.id)
                if meldung is None:
                    ohne += 1
                    continue
                ampeln[meldung.ampel] += 1
                if meldung.ampel is not Ampel.ABGESCHLOSSEN:
                    laufende.append(meldung.zeitpunkt)
            ergebnis.append(
                Felduebersicht(
                    themenfeld_id=feld.id,
                    themenfeld_slug=feld.slug,
                    themenfeld_name=feld.name,
                    ampeln=dict(ampeln),
                    ohne_meldung=ohne,
                    aelteste_meldung=min(laufende, default=None),
                )
            )
        return ergebnis

    def ueberfaellige(self, jetzt: dt.datetime) -> list[Ueberfaelligkeit]:
        """Ohne Änderungsprotokoll zählt allein die neueste gültige Meldung."""
        ergebnis = []
        for feld in self._aktive_felder():
            for projekt in self._projekte(feld.id):
                meldung = self.neueste(projekt.id)
                if meldung is not None and meldung.ampel is Ampel.ABGESCHLOSSEN:
                    continue
                frist = dt.timedelta(days=feld.ueberfaellig_nach_tagen)
                if meldung is not None and meldung.zeitpunkt >= jetzt - frist:
                    continue
                ergebnis.append(
                    Ueberfaelligkeit(
                        projekt_id=projekt.id,
                        projekt_slug=projekt.slug,
                        projekt_titel=projekt.titel,
                        themenfeld_id=feld.id,
                        themenfeld_slug=feld.slug,
                        themenfeld_name=feld.name,
                        raum_id=None,
                        frist_tage=feld.ueberfaellig_nach_tagen,
                        letzte_meldung=None if meldung is None else meldung.zeitpunkt,
                        letzte_ampel=None if meldung is None else meldung.ampel,
                        bezug=None if meldung is None else meldung.zeitpunkt,
                    )
                )
        return ergebnis

    def verlauf(self, projekt_id: int, anzahl: int) -> list[Meldungseintrag]:
        return [
            Meldungseintrag(
                meldung_id=m.id,
                zeitpunkt=m.zeitpunkt,
                ampel=m.ampel,
                fortschritt=m.fortschritt,
                text=m.text,
                herausforderungen=m.herausforderungen,
                autor=self._autor(m),
                quelle=m.quelle,
            )
            for m in self.gueltige[projekt_id][:anzahl]
        ]

    def ampel_wechsel(self, von: dt.datetime, bis: dt.datetime) -> list[Ampelwechsel]:
        alle_felder = sorted(self.felder.values(), key=lambda f: (f.reihenfolge, f.id))
        ergebnis = []
        for feld in alle_felder:
            for projekt in self._projekte(feld.id, auch_archivierte=True):
                vorher = self.neueste(projekt.id, von)
                nachher = self.neueste(projekt.id, bis)
                if nachher is None or (vorher is not None and vorher.ampel is nachher.ampel):
                    continue
                # Rückwärts bis zur ersten Meldung anderer Farbe; die davor setzte den Stand.
                ausloeser = nachher
                for meldung in self.gueltige[projekt.id]:
                    if meldung.zeitpunkt > bis:
                        continue
                    if meldung.ampel is not nachher.ampel:
                        break
                    ausloeser = meldung
                ergebnis.append(
                    Ampelwechsel(
                        projekt_id=projekt.id,
                        projekt_slug=projekt.slug,
                        projekt_titel=projekt.titel,
                        themenfeld_id=feld.id,
                        themenfeld_slug=feld.slug,
                        archiviert=projekt.archiviert or feld.archiviert,
                        alt=None if vorher is None else vorher.ampel,
                        neu=nachher.ampel,
                        meldung_id=ausloeser.id,
                        zeitpunkt=ausloeser.zeitpunkt,
                        autor=self._autor(ausloeser),
                        text=ausloeser.text,
                    )
                )
        return ergebnis
