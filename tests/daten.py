"""Was die Abfragen auf dem Datenbestand in Menge (`demo/bestand.py`) liefern müssen.

`Erwartung` rechnet jede Abfrage aus `modelle.stand` auf dem einfachsten Weg nach
(sortieren, filtern, in Schleifen), damit die Tests das Ergebnis der SQL-Abfragen Wert für
Wert vergleichen können.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncEngine

from demo.bestand import BEGINN, Bestand, Feld, Meldung, Projekt, erzeuge_bestand
from modelle.stand import Felduebersicht, Meldungseintrag, Projektstand
from modelle.versand import Ueberfaelligkeit
from modelle.wechsel import Ampelwechsel
from modelle.werte import Ampel

# Das Ende des Bestands: drei Jahre Wochenmeldungen ab `BEGINN`.
ENDE = BEGINN + dt.timedelta(weeks=156)


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


async def lege_bestand_an(engine: AsyncEngine) -> tuple[Bestand, Erwartung]:
    """Fügt den Bestand in Menge (`demo.bestand.erzeuge_bestand`) ein; dazu seine Nachrechnung."""
    bestand = erzeuge_bestand()
    async with engine.begin() as verbindung:
        await bestand.einfuegen(verbindung)
    return bestand, Erwartung(bestand)
