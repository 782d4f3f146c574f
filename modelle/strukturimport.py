"""Die Strukturdatei in die Datenbank übernehmen, mit Änderungsprotokoll und Importbericht.

Der Abgleich ändert nur, was sich unterscheidet, und protokolliert jede Änderung im
Änderungsprotokoll; `setze_abfrage()` ändert den Zeitplan eines Felds aus dem Chat auf
dieselbe Weise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from modelle.basis import Basis, jetzt
from modelle.stand import aktuelle_staende
from modelle.strukturdatei import ProjektAngabe, Struktur, StrukturFehler
from modelle.tabellen import (
    Aenderung,
    Person,
    Raum,
    Rollenzuweisung,
    Statusmeldung,
    Strategieprojekt,
    Themenfeld,
)
from modelle.werte import Ampel, Quelle, Rolle


@dataclass
class Importbericht:
    """Was ein Import geändert hat: eine deutsche Zeile je Änderung."""

    zeilen: list[str] = field(default_factory=list)
    # Nicht übernommene Angaben, z. B. ein Anfangsstand für ein Projekt, das schon Meldungen hat.
    hinweise: list[str] = field(default_factory=list)
    _objekte: dict[tuple[str, str], set[str]] = field(default_factory=dict, repr=False)

    @property
    def geaendert(self) -> bool:
        return bool(self.zeilen)

    def vermerke(self, art: str, aktion: str, objekt: str, zeile: str) -> None:
        self._objekte.setdefault((art, aktion), set()).add(objekt)
        self.zeilen.append(zeile)

    def anzahl(self, art: str, aktion: str) -> int:
        objekte = self._objekte.get((art, aktion), set())
        if aktion == "geändert":
            # Wer angelegt, archiviert oder wieder aktiviert wurde, zählt nicht auch als geändert.
            for andere in ("angelegt", "archiviert", "wieder aktiviert"):
                objekte = objekte - self._objekte.get((art, andere), set())
        return len(objekte)

    def zusammenfassung(self) -> str:
        if not self.zeilen:
            kopf = "keine Änderungen"
        else:
            teile = [
                f"{anzahl} {einzahl if anzahl == 1 else mehrzahl} {aktion}"
                for art, einzahl, mehrzahl, aktionen in _BERICHTSARTEN
                for aktion in aktionen
                if (anzahl := self.anzahl(art, aktion))
            ]
            kopf = "\n".join([", ".join(teile), *(f"- {z}" for z in self.zeilen)])
        if self.hinweise:
            kopf += "\nHinweise:\n" + "\n".join(f"- {h}" for h in self.hinweise)
        return kopf


_LEBENSLAUF = ("angelegt", "geändert", "archiviert", "wieder aktiviert")
_BERICHTSARTEN = (
    ("themenfeld", "Themenfeld", "Themenfelder", _LEBENSLAUF),
    ("raum", "Raum", "Räume", ("angelegt", "geändert", "entfernt")),
    ("person", "Person", "Personen", ("angelegt", "geändert")),
    ("rolle", "Rolle", "Rollen", ("vergeben", "entzogen")),
    ("projekt", "Projekt", "Projekte", _LEBENSLAUF),
    ("anfangsstand", "Anfangsstand", "Anfangsstände", ("gesetzt",)),
)

_FELD_BEZEICHNUNG = {
    "name": "Name",
    "aliase": "Aliase",
    "abfrage": "Abfrage",
    "ueberfaellig_nach_tagen": "überfällig nach Tagen",
    "reihenfolge": "Position",
    "titel": "Titel",
    "beschreibung": "Beschreibung",
    "wirkungspotenzial": "Wirkungspotenzial (t CO₂e/Jahr)",
    "start": "Start",
    "ende": "geplantes Ende",
    "themenfeld": "Themenfeld",
}


class _Protokoll:
    """Schreibt jede Änderung ins Änderungsprotokoll und zugleich in den Importbericht."""

    def __init__(self, wer: str, zeitpunkt: dt.datetime) -> None:
        self.wer = wer
        self.zeitpunkt = zeitpunkt
        self.aenderungen: list[dict[str, Any]] = []
        self.bericht = Importbericht()

    def notiere(
        self,
        art: str,
        objekt: str,
        feld: str,
        alt: str | None,
        neu: str | None,
        *,
        aktion: str,
        zeile: str,
        bericht_art: str | None = None,
        bericht_objekt: str | None = None,
    ) -> None:
        self.aenderungen.append(
            {
                "zeitpunkt": self.zeitpunkt,
                "wer": self.wer,
                "objekt_art": art,
                "objekt": objekt,
                "feld": feld,
                "alt": alt,
                "neu": neu,
            }
        )
        self.bericht.vermerke(bericht_art or art, aktion, bericht_objekt or objekt, zeile)

    def angelegt(self, art: str, bezeichnung: str, objekt: str, name: str) -> None:
        self.notiere(
            art, objekt, "angelegt", None, name,
            aktion="angelegt", zeile=f"{bezeichnung} „{objekt}“ angelegt ({name})",
        )  # fmt: skip

    def archiviert(self, art: str, bezeichnung: str, objekt: str, archiviert: bool) -> None:
        alt, neu = ("nein", "ja") if archiviert else ("ja", "nein")
        aktion = "archiviert" if archiviert else "wieder aktiviert"
        self.notiere(
            art, objekt, "archiviert", alt, neu,
            aktion=aktion, zeile=f"{bezeichnung} „{objekt}“ {aktion}",
        )  # fmt: skip

    def gleiche_ab(
        self,
        art: str,
        bezeichnung: str,
        objekt: str,
        zeile: Any,
        werte: Iterable[tuple[str, str, Any]],
    ) -> None:
        """Setzt jedes (Dateischlüssel, Attribut, Wert), das abweicht, und protokolliert es."""
        for schluessel, attribut, neu in werte:
            alt = getattr(zeile, attribut)
            if alt == neu:
                continue
            setattr(zeile, attribut, neu)
            self.geaendert(art, bezeichnung, objekt, schluessel, _lesbar(alt), _lesbar(neu))

    def geaendert(
        self,
        art: str,
        bezeichnung: str,
        objekt: str,
        schluessel: str,
        alt: str | None,
        neu: str | None,
    ) -> None:
        self.notiere(
            art, objekt, schluessel, alt, neu,
            aktion="geändert",
            zeile=(
                f"{bezeichnung} „{objekt}“: {_FELD_BEZEICHNUNG.get(schluessel, schluessel)} "
                f"{_kurz(alt)} → {_kurz(neu)}"
            ),
        )  # fmt: skip


@dataclass
class _Bestand:
    """Alles, was der Abgleich aus der Datenbank braucht, mit wenigen Abfragen geladen."""

    felder: dict[str, Themenfeld]
    raeume: list[Raum]
    personen: dict[str, Person]
    rollen: list[Rollenzuweisung]
    projekte: dict[str, Strategieprojekt]
    stand: dict[int, tuple[Ampel, int | None]]


async def _lade_bestand(sitzung: AsyncSession) -> _Bestand:
    felder = (await sitzung.scalars(select(Themenfeld))).all()
    raeume = (await sitzung.scalars(select(Raum))).all()
    personen = (await sitzung.scalars(select(Person))).all()
    rollen = (await sitzung.scalars(select(Rollenzuweisung))).all()
    projekte = (await sitzung.scalars(select(Strategieprojekt))).all()
    return _Bestand(
        felder={f.slug: f for f in felder},
        raeume=list(raeume),
        personen={p.matrix_id: p for p in personen},
        rollen=list(rollen),
        projekte={p.slug: p for p in projekte},
        stand=await aktuelle_staende(sitzung),
    )


async def _fuege_ein(
    sitzung: AsyncSession, modell: type[Basis], zeilen: list[dict[str, Any]]
) -> None:
    # Ein INSERT für alle Zeilen: der ORM-Flush schriebe auf SQLite jede Zeile einzeln.
    # render_nulls hält Zeilen mit und ohne None-Werte im selben Stapel.
    if zeilen:
        await sitzung.execute(insert(modell).execution_options(render_nulls=True), zeilen)


async def _fuege_ein_mit_ids(
    sitzung: AsyncSession,
    modell: type[Basis],
    id_spalte: InstrumentedAttribute[int],
    schluessel_spalte: InstrumentedAttribute[str],
    zeilen: list[dict[str, Any]],
) -> dict[str, int]:
    """Fügt ein und liefert die neuen ids je Schlüssel (Slug, Matrix-ID)."""
    if not zeilen:
        return {}
    # Die Zuordnung über den Schlüssel erspart es, die Reihenfolge von RETURNING zu erzwingen.
    anweisung = (
        insert(modell).returning(schluessel_spalte, id_spalte).execution_options(render_nulls=True)
    )
    return {schluessel: id_ for schluessel, id_ in await sitzung.execute(anweisung, zeilen)}


def _positionen(bisher: Sequence[int | None]) -> list[int]:
    """Reihenfolge-Werte für Einträge in Dateireihenfolge; None steht für neue Einträge.

    Bisherige Werte bleiben, solange sie aufsteigen: Entfernen oder Anhängen eines Eintrags
    verschiebt so nicht alle übrigen. Stimmt die Reihenfolge nicht mehr, wird neu gezählt.
    """
    positionen: list[int] = []
    letzte = 0
    for wert in bisher:
        if wert is None:
            wert = letzte + 1
        elif wert <= letzte:
            return list(range(1, len(bisher) + 1))
        positionen.append(wert)
        letzte = wert
    return positionen


async def importiere_struktur(
    sitzung: AsyncSession, struktur: Struktur, wer: str, *, zeitpunkt: dt.datetime | None = None
) -> Importbericht:
    """Gleicht die Datenbank mit `struktur` ab, in der Transaktion des Aufrufers.

    Angelegt und geändert wird nach Slug bzw. Matrix-ID; was in der Datei fehlt, wird
    archiviert (Themenfelder, Projekte) bzw. verliert seine Rollen (Personen), gelöscht
    wird nichts davon. `wer` steht im Änderungsprotokoll, `zeitpunkt` (Vorgabe: jetzt) bei
    jedem Eintrag dort und bei jedem Anfangsstand – die Demo lädt so eine Vorgeschichte.
    Ein `StrukturFehler` kommt, bevor etwas geschrieben ist. Die Zahl der Abfragen hängt
    nicht von der Größe ab.
    """
    bestand = await _lade_bestand(sitzung)
    _pruefe_gegen_bestand(struktur, bestand)
    protokoll = _Protokoll(wer, jetzt() if zeitpunkt is None else zeitpunkt)

    feld_ids = await _gleiche_themenfelder_ab(sitzung, struktur, bestand, protokoll)
    await _gleiche_raeume_ab(sitzung, struktur, bestand, feld_ids, protokoll)
    person_ids = await _gleiche_personen_ab(sitzung, struktur, bestand, protokoll)
    await _gleiche_rollen_ab(sitzung, struktur, bestand, feld_ids, person_ids, protokoll)
    projekt_ids = await _gleiche_projekte_ab(sitzung, struktur, bestand, feld_ids, protokoll)
    await _setze_anfangsstaende(sitzung, struktur, bestand, projekt_ids, protokoll)

    await _fuege_ein(sitzung, Aenderung, protokoll.aenderungen)
    await sitzung.flush()
    return protokoll.bericht


def _pruefe_gegen_bestand(struktur: Struktur, bestand: _Bestand) -> None:
    stabsstelle = {r.adresse for r in bestand.raeume if r.ist_stabsstelle}
    probleme = [
        f"{struktur.dateiname}, Themenfeld „{feld.slug}“: Raum „{feld.raum}“ ist der Raum der "
        f"Stabsstelle Klima und kann nicht zugleich Raum eines Themenfelds sein"
        for feld in struktur.themenfelder
        if feld.raum in stabsstelle
    ]
    if probleme:
        raise StrukturFehler(probleme)


async def _gleiche_themenfelder_ab(
    sitzung: AsyncSession, struktur: Struktur, bestand: _Bestand, protokoll: _Protokoll
) -> dict[str, int]:
    vorhanden = bestand.felder
    positionen = _positionen(
        [
            vorhanden[f.slug].reihenfolge if f.slug in vorhanden else None
            for f in struktur.themenfelder
        ]
    )
    neue: list[dict[str, Any]] = []
    for angabe, position in zip(struktur.themenfelder, positionen, strict=True):
        feld = vorhanden.get(angabe.slug)
        if feld is None:
            neue.append(
                {
                    "slug": angabe.slug,
                    "name": angabe.name,
                    "aliase": list(angabe.aliase),
                    "abfrage": angabe.abfrage,
                    "ueberfaellig_nach_tagen": angabe.ueberfaellig_nach_tagen,
                    "reihenfolge": position,
                    "archiviert": False,
                }
            )
            protokoll.angelegt("themenfeld", "Themenfeld", angabe.slug, angabe.name)
            continue
        if feld.archiviert:
            feld.archiviert = False
            protokoll.archiviert("themenfeld", "Themenfeld", angabe.slug, archiviert=False)
        protokoll.gleiche_ab(
            "themenfeld",
            "Themenfeld",
            angabe.slug,
            feld,
            [
                ("name", "name", angabe.name),
                ("aliase", "aliase", list(angabe.aliase)),
                ("abfrage", "abfrage", angabe.abfrage),
                (
                    "ueberfaellig_nach_tagen",
                    "ueberfaellig_nach_tagen",
                    angabe.ueberfaellig_nach_tagen,
                ),
                ("reihenfolge", "reihenfolge", position),
            ],
        )
    in_datei = {f.slug for f in struktur.themenfelder}
    for slug, feld in vorhanden.items():
        if slug not in in_datei and not feld.archiviert:
            feld.archiviert = True
            protokoll.archiviert("themenfeld", "Themenfeld", slug, archiviert=True)
    ids = {slug: feld.id for slug, feld in vorhanden.items()}
    ids.update(await _fuege_ein_mit_ids(sitzung, Themenfeld, Themenfeld.id, Themenfeld.slug, neue))
    return ids


async def _gleiche_raeume_ab(
    sitzung: AsyncSession,
    struktur: Struktur,
    bestand: _Bestand,
    feld_ids: Mapping[str, int],
    protokoll: _Protokoll,
) -> None:
    # Ein archiviertes Themenfeld hat keinen Raum mehr: der Bot bedient ihn nicht, und die
    # Adresse wird frei für ein anderes Feld.
    gewuenscht = {feld_ids[f.slug]: f.raum for f in struktur.themenfelder if f.raum}
    slug_von = {i: slug for slug, i in feld_ids.items()}
    vorhanden = {r.themenfeld_id: r for r in bestand.raeume if r.themenfeld_id is not None}

    entfernt = [(feld_id, raum) for feld_id, raum in vorhanden.items() if feld_id not in gewuenscht]
    for feld_id, raum in entfernt:
        await sitzung.delete(raum)
        protokoll.notiere(
            "raum", slug_von[feld_id], "entfernt", raum.adresse, None,
            aktion="entfernt",
            zeile=f"Raum „{raum.adresse}“ von Themenfeld „{slug_von[feld_id]}“ entfernt",
        )  # fmt: skip

    umzuege = [
        (raum, raum.adresse, gewuenscht[feld_id])
        for feld_id, raum in vorhanden.items()
        if feld_id in gewuenscht and raum.adresse != gewuenscht[feld_id]
    ]
    # Adressen sind eindeutig: tauschen zwei Felder ihre Räume, braucht es einen Zwischenstand.
    for raum, _, _ in umzuege:
        raum.adresse = f"umzug:{raum.id}"
    if entfernt or umzuege:
        await sitzung.flush()
    for raum, alte_adresse, adresse in umzuege:
        assert raum.themenfeld_id is not None
        slug = slug_von[raum.themenfeld_id]
        raum.adresse = adresse
        # Die aufgelöste Raum-ID gehörte zur alten Adresse.
        raum.raum_id = None
        protokoll.notiere(
            "raum", slug, "adresse", alte_adresse, adresse,
            aktion="geändert",
            zeile=f"Raum von Themenfeld „{slug}“: „{alte_adresse}“ → „{adresse}“",
        )  # fmt: skip
    if umzuege:
        await sitzung.flush()

    neue: list[dict[str, Any]] = []
    for feld_id, adresse in gewuenscht.items():
        if feld_id not in vorhanden:
            neue.append({"adresse": adresse, "themenfeld_id": feld_id, "ist_stabsstelle": False})
            protokoll.notiere(
                "raum", slug_von[feld_id], "angelegt", None, adresse,
                aktion="angelegt",
                zeile=f"Raum „{adresse}“ für Themenfeld „{slug_von[feld_id]}“ angelegt",
            )  # fmt: skip
    await _fuege_ein(sitzung, Raum, neue)


async def _gleiche_personen_ab(
    sitzung: AsyncSession, struktur: Struktur, bestand: _Bestand, protokoll: _Protokoll
) -> dict[str, int]:
    neue: list[dict[str, Any]] = []
    for angabe in struktur.personen:
        person = bestand.personen.get(angabe.matrix_id)
        if person is None:
            neue.append({"matrix_id": angabe.matrix_id, "anzeigename": angabe.name})
            protokoll.angelegt("person", "Person", angabe.matrix_id, angabe.name)
        else:
            protokoll.gleiche_ab(
                "person", "Person", angabe.matrix_id, person, [("name", "anzeigename", angabe.name)]
            )
    ids = {matrix_id: person.id for matrix_id, person in bestand.personen.items()}
    ids.update(await _fuege_ein_mit_ids(sitzung, Person, Person.id, Person.matrix_id, neue))
    return ids


_Rollenschluessel = tuple[str, Rolle, str | None]


def _rollenzeile(schluessel: _Rollenschluessel, vergeben: bool) -> str:
    matrix_id, rolle, slug = schluessel
    jetzt_oder_nicht = "jetzt" if vergeben else "nicht mehr"
    if rolle is Rolle.STABSSTELLE:
        return f"Person „{matrix_id}“ gehört {jetzt_oder_nicht} zur Stabsstelle Klima"
    return f"Person „{matrix_id}“ ist {jetzt_oder_nicht} {rolle.bezeichnung} von „{slug}“"


async def _gleiche_rollen_ab(
    sitzung: AsyncSession,
    struktur: Struktur,
    bestand: _Bestand,
    feld_ids: Mapping[str, int],
    person_ids: Mapping[str, int],
    protokoll: _Protokoll,
) -> None:
    # Die Datei ist vollständig: wer darin fehlt, behält seine Personenzeile, aber keine Rolle.
    gewuenscht: list[_Rollenschluessel] = []
    for person in struktur.personen:
        gewuenscht += [(person.matrix_id, Rolle.PATIN, slug) for slug in person.patin]
        gewuenscht += [(person.matrix_id, Rolle.KOORDINATION, slug) for slug in person.koordination]
        if person.stabsstelle:
            gewuenscht.append((person.matrix_id, Rolle.STABSSTELLE, None))
    matrix_von = {i: matrix_id for matrix_id, i in person_ids.items()}
    slug_von = {i: slug for slug, i in feld_ids.items()}
    vorhanden: dict[_Rollenschluessel, Rollenzuweisung] = {
        (
            matrix_von[r.person_id],
            Rolle(r.rolle),
            None if r.themenfeld_id is None else slug_von[r.themenfeld_id],
        ): r
        for r in bestand.rollen
    }

    def notiere(schluessel: _Rollenschluessel, vergeben: bool) -> None:
        matrix_id, rolle, slug = schluessel
        wert = "ja" if slug is None else slug
        protokoll.notiere(
            "rolle", matrix_id, rolle.value,
            None if vergeben else wert, wert if vergeben else None,
            aktion="vergeben" if vergeben else "entzogen",
            zeile=_rollenzeile(schluessel, vergeben),
            bericht_objekt=f"{matrix_id} {rolle.value} {slug}",
        )  # fmt: skip

    bleibt = set(gewuenscht)
    entzogen = [(k, r) for k, r in vorhanden.items() if k not in bleibt]
    for schluessel, zuweisung in entzogen:
        await sitzung.delete(zuweisung)
        notiere(schluessel, vergeben=False)
    if entzogen:
        # Erst löschen, dann einfügen: sonst stößt eine neue Pat*in an die alte (eine je Feld).
        await sitzung.flush()
    neue: list[dict[str, Any]] = []
    for schluessel in gewuenscht:
        if schluessel in vorhanden:
            continue
        matrix_id, rolle, slug = schluessel
        neue.append(
            {
                "person_id": person_ids[matrix_id],
                "rolle": rolle,
                "themenfeld_id": None if slug is None else feld_ids[slug],
            }
        )
        notiere(schluessel, vergeben=True)
    await _fuege_ein(sitzung, Rollenzuweisung, neue)


async def _gleiche_projekte_ab(
    sitzung: AsyncSession,
    struktur: Struktur,
    bestand: _Bestand,
    feld_ids: Mapping[str, int],
    protokoll: _Protokoll,
) -> dict[str, int]:
    slug_von_feld = {i: slug for slug, i in feld_ids.items()}
    positionen = _projektpositionen(struktur, bestand, feld_ids)
    neue: list[dict[str, Any]] = []
    for angabe in struktur.projekte:
        feld_id = feld_ids[angabe.themenfeld]
        position = positionen[angabe.slug]
        projekt = bestand.projekte.get(angabe.slug)
        if projekt is None:
            neue.append(
                {
                    "slug": angabe.slug,
                    "themenfeld_id": feld_id,
                    "titel": angabe.titel,
                    "beschreibung": angabe.beschreibung,
                    "aliase": list(angabe.aliase),
                    "wirkungspotenzial": angabe.wirkungspotenzial,
                    "start": angabe.start,
                    "geplantes_ende": angabe.ende,
                    "reihenfolge": position,
                    "archiviert": False,
                }
            )
            protokoll.angelegt("projekt", "Projekt", angabe.slug, angabe.titel)
            continue
        if projekt.archiviert:
            projekt.archiviert = False
            protokoll.archiviert("projekt", "Projekt", angabe.slug, archiviert=False)
        if projekt.themenfeld_id != feld_id:
            protokoll.geaendert(
                "projekt", "Projekt", angabe.slug, "themenfeld",
                slug_von_feld[projekt.themenfeld_id], angabe.themenfeld,
            )  # fmt: skip
            projekt.themenfeld_id = feld_id
        protokoll.gleiche_ab(
            "projekt",
            "Projekt",
            angabe.slug,
            projekt,
            [
                ("titel", "titel", angabe.titel),
                ("beschreibung", "beschreibung", angabe.beschreibung),
                ("aliase", "aliase", list(angabe.aliase)),
                ("wirkungspotenzial", "wirkungspotenzial", angabe.wirkungspotenzial),
                ("start", "start", angabe.start),
                ("ende", "geplantes_ende", angabe.ende),
                ("reihenfolge", "reihenfolge", position),
            ],
        )
    in_datei = {p.slug for p in struktur.projekte}
    for slug, projekt in bestand.projekte.items():
        if slug not in in_datei and not projekt.archiviert:
            projekt.archiviert = True
            protokoll.archiviert("projekt", "Projekt", slug, archiviert=True)
    ids = {slug: projekt.id for slug, projekt in bestand.projekte.items()}
    ids.update(
        await _fuege_ein_mit_ids(
            sitzung, Strategieprojekt, Strategieprojekt.id, Strategieprojekt.slug, neue
        )
    )
    return ids


def _projektpositionen(
    struktur: Struktur, bestand: _Bestand, feld_ids: Mapping[str, int]
) -> dict[str, int]:
    # Die Reihenfolge zählt innerhalb des Themenfelds: so zeigt der Bot die Projekte an.
    je_feld: dict[str, list[ProjektAngabe]] = {}
    for angabe in struktur.projekte:
        je_feld.setdefault(angabe.themenfeld, []).append(angabe)
    positionen: dict[str, int] = {}
    for feld_slug, angaben in je_feld.items():
        bisher: list[int | None] = []
        for angabe in angaben:
            projekt = bestand.projekte.get(angabe.slug)
            # Wer aus einem anderen Feld kommt, bringt keine passende Position mit.
            passend = projekt is not None and projekt.themenfeld_id == feld_ids[feld_slug]
            bisher.append(projekt.reihenfolge if passend and projekt is not None else None)
        positionen.update(zip((a.slug for a in angaben), _positionen(bisher), strict=True))
    return positionen


async def _setze_anfangsstaende(
    sitzung: AsyncSession,
    struktur: Struktur,
    bestand: _Bestand,
    projekt_ids: Mapping[str, int],
    protokoll: _Protokoll,
) -> None:
    neue: list[dict[str, Any]] = []
    for angabe in struktur.projekte:
        if angabe.ampel is None:
            continue
        projekt_id = projekt_ids[angabe.slug]
        stand = bestand.stand.get(projekt_id)
        gewuenscht = _stand_text(angabe.ampel, angabe.fortschritt)
        if stand is None:
            neue.append(
                {
                    "projekt_id": projekt_id,
                    "autor_id": None,
                    "zeitpunkt": protokoll.zeitpunkt,
                    "ampel": angabe.ampel,
                    "fortschritt": angabe.fortschritt,
                    "text": "",
                    "quelle": Quelle.IMPORT,
                    "zurueckgezogen": False,
                }
            )
            protokoll.notiere(
                "projekt", angabe.slug, "anfangsstand", None, gewuenscht,
                aktion="gesetzt",
                zeile=f"Projekt „{angabe.slug}“: Anfangsstand {gewuenscht}",
                bericht_art="anfangsstand",
            )  # fmt: skip
        elif stand != (angabe.ampel, angabe.fortschritt):
            protokoll.bericht.hinweise.append(
                f"Projekt „{angabe.slug}“: Anfangsstand {gewuenscht} nicht übernommen, es gibt "
                f"schon Statusmeldungen (aktuell {_stand_text(*stand)})"
            )
    await _fuege_ein(sitzung, Statusmeldung, neue)


def _stand_text(ampel: Ampel, fortschritt: int | None) -> str:
    return ampel.wort if fortschritt is None else f"{ampel.wort}, {fortschritt} %"


# --- Lesbare Werte im Änderungsprotokoll ------------------------------------------------------


def _lesbar(wert: object) -> str | None:
    if wert is None:
        return None
    if isinstance(wert, bool):
        return "ja" if wert else "nein"
    if isinstance(wert, list | tuple):
        return ", ".join(str(w) for w in wert) or None
    if isinstance(wert, float):
        return (str(int(wert)) if wert.is_integer() else repr(wert)).replace(".", ",")
    if isinstance(wert, dt.date):
        return wert.isoformat()
    return str(wert)


def _kurz(wert: str | None, hoechstens: int = 80) -> str:
    if wert is None:
        return "(leer)"
    if len(wert) > hoechstens:
        wert = wert[: hoechstens - 1] + "…"
    return f"„{wert}“"


# --- Der Zeitplan eines Felds aus dem Chat ---------------------------------------------------


async def setze_abfrage(
    sitzung: AsyncSession, feld_id: int, neu: str | None, *, wer: str, zeitpunkt: dt.datetime
) -> str | None:
    """Ändert den Abfrage-Zeitplan eines Felds (aus dem Chat); gibt den bisherigen zurück.

    Ohne Änderung wird nichts geschrieben. Protokolliert wie der Import: Objekt ist der Slug,
    alt und neu sind die gespeicherten Texte, leer heißt Vorgabe der Konfiguration.
    """
    feld = await sitzung.get_one(Themenfeld, feld_id)
    alt = feld.abfrage
    if alt == neu:
        return alt
    feld.abfrage = neu
    sitzung.add(
        Aenderung(
            zeitpunkt=zeitpunkt,
            wer=wer,
            objekt_art="themenfeld",
            objekt=feld.slug,
            feld="abfrage",
            alt=alt,
            neu=neu,
        )
    )
    await sitzung.flush()
    return alt
