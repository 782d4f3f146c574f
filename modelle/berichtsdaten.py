"""Der Wochenbericht als Daten: was sich in einem Zeitraum getan hat, je Themenfeld,
dazu der Ampelverlauf fürs Diagramm und die nicht zugestellten Nachrichten.

Dieses Modul stellt zusammen, `befehle.berichtsausgabe` stellt dar. Die Zahl der
Datenbankabfragen hängt nicht von der Zahl der Projekte oder Meldungen ab (fünf für den
Bericht, zwei für den Ampelverlauf); gerechnet wird danach in Python, nur die Ampeln je
Stichtag zählt schon die Datenbank.

`Wochenbericht.als_dict()` ist das dokumentierte Austauschformat für Klimadashboard und
Klimabericht (README, Abschnitt „Wochenbericht und Export“): wer daran etwas ändert,
ändert eine Schnittstelle und erhöht `FORMATVERSION`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from modelle.direktraeume import PLATZHALTER as DIREKTRAUM_PLATZHALTER
from modelle.stand import (
    Projektstand,
    aktive_themenfelder,
    alle_letzten_meldungen,
    ampeln_zu_stichtagen,
    ist_ueberfaellig,
    still_seit,
)
from modelle.tabellen import Ausgang, Direktraum, Raum, Themenfeld
from modelle.wechsel import (
    Ampelwechsel,
    Projektaenderung,
    Projektereignis,
    ampel_wechsel,
    projektaenderungen,
)
from modelle.werte import Ampel

# Die Version des Formats von `Wochenbericht.als_dict()`.
FORMATVERSION = 1

_T = TypeVar("_T")


def austauschzeit(wert: dt.datetime | None, zeitzone: dt.tzinfo) -> str | None:
    """Ein Zeitpunkt in den Austauschformaten (dieses und `modelle.statusexport`): ISO 8601
    mit Versatz zu `zeitzone`, sekundengenau; Mikrosekunden wären nur Rauschen."""
    return None if wert is None else wert.astimezone(zeitzone).isoformat(timespec="seconds")


def _ampel(wert: Ampel | None) -> dict[str, str] | None:
    # Der gespeicherte ASCII-Wert für Programme, das Wort für Menschen.
    return None if wert is None else {"wert": wert.value, "wort": wert.wort}


def _zaehlung(ampeln: Mapping[Ampel, int]) -> dict[str, int]:
    return {ampel.value: ampeln.get(ampel, 0) for ampel in Ampel}


# --- Bestandteile ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wechsel:
    """Ein Projekt, dessen Ampel am Ende des Zeitraums anders steht als an seinem Anfang.

    Text, Autor*in und Zeitpunkt sind die der Meldung, mit der es in den neuen Stand kam.
    """

    projekt_slug: str
    projekt_titel: str
    alt: Ampel | None
    neu: Ampel
    zeitpunkt: dt.datetime
    autor: str | None
    text: str
    # Inzwischen archiviert: abgeschlossene Projekte werden oft in derselben Woche archiviert.
    archiviert: bool

    def als_dict(self, zeitzone: dt.tzinfo) -> dict[str, Any]:
        return {
            "projekt": self.projekt_slug,
            "titel": self.projekt_titel,
            "alt": _ampel(self.alt),
            "neu": _ampel(self.neu),
            "zeitpunkt": austauschzeit(self.zeitpunkt, zeitzone),
            "autor": self.autor,
            "text": self.text,
            "archiviert": self.archiviert,
        }


@dataclass(frozen=True, slots=True)
class RotGelbProjekt:
    """Ein Projekt, das am Ende des Zeitraums rot oder gelb steht, mit seiner neuesten Meldung."""

    projekt_slug: str
    projekt_titel: str
    ampel: Ampel
    fortschritt: int | None
    # Die Herausforderungen der neuesten Meldung, wie `!status` sie zeigt.
    herausforderungen: str | None
    text: str
    zeitpunkt: dt.datetime
    autor: str | None

    def als_dict(self, zeitzone: dt.tzinfo) -> dict[str, Any]:
        return {
            "projekt": self.projekt_slug,
            "titel": self.projekt_titel,
            "ampel": _ampel(self.ampel),
            "fortschritt": self.fortschritt,
            "herausforderungen": self.herausforderungen,
            "text": self.text,
            "zeitpunkt": austauschzeit(self.zeitpunkt, zeitzone),
            "autor": self.autor,
        }


@dataclass(frozen=True, slots=True)
class UeberfaelligesProjekt:
    """Ein laufendes Projekt, dessen neueste Meldung älter ist, als sein Themenfeld erlaubt."""

    projekt_slug: str
    projekt_titel: str
    # Beide leer, wenn das Projekt nie gemeldet hat.
    letzte_meldung: dt.datetime | None
    letzte_ampel: Ampel | None
    # Ganze Tage zwischen der letzten Meldung und dem Ende des Zeitraums.
    tage_ohne_meldung: int | None

    def als_dict(self, zeitzone: dt.tzinfo) -> dict[str, Any]:
        return {
            "projekt": self.projekt_slug,
            "titel": self.projekt_titel,
            "letzte_meldung": austauschzeit(self.letzte_meldung, zeitzone),
            "letzte_ampel": _ampel(self.letzte_ampel),
            "tage_ohne_meldung": self.tage_ohne_meldung,
        }


@dataclass(frozen=True, slots=True)
class Strukturaenderung:
    """Ein Projekt, das im Zeitraum angelegt, wieder aktiviert oder archiviert wurde."""

    projekt_slug: str
    projekt_titel: str
    zeitpunkt: dt.datetime
    wer: str
    # Nur bei neuen Projekten: ihr Stand zum Ende des Zeitraums (leer ohne Meldung) und ob
    # es sie schon gab und sie nur archiviert waren.
    ampel: Ampel | None = None
    wieder_aktiviert: bool = False

    def als_dict(self, zeitzone: dt.tzinfo) -> dict[str, Any]:
        return {
            "projekt": self.projekt_slug,
            "titel": self.projekt_titel,
            "zeitpunkt": austauschzeit(self.zeitpunkt, zeitzone),
            "wer": self.wer,
            "ampel": _ampel(self.ampel),
            "wieder_aktiviert": self.wieder_aktiviert,
        }


@dataclass(frozen=True, slots=True)
class UebersprungeneAbfrage:
    """Eine Abfrage, die fällig war, als der Bot zu lange nicht lief, und darum entfiel."""

    themenfeld_slug: str
    faellig: dt.datetime


@dataclass(frozen=True, slots=True)
class NichtZugestellt:
    """Eine Nachricht des Bots, die er nach der Grenze der Versuche aufgegeben hat.

    Wohin sie sollte, so genau der Bot es weiß: der Raum eines Themenfelds, der der
    Stabsstelle, der Direktraum einer Person – oder nur eine Raum-ID.
    """

    raum_id: str | None
    themenfeld_slug: str | None
    themenfeld_name: str | None
    stabsstelle: bool
    # Bei einer Direktnachricht: an wen.
    person: str | None
    # "nachricht" oder "reaktion"
    art: str
    # Der Anfang der Nachricht (erste Zeile) oder das Zeichen der Reaktion.
    auszug: str
    erstellt: dt.datetime
    aufgegeben: dt.datetime
    # Der letzte Fehler, wie der Homeserver ihn nannte.
    fehler: str

    def als_dict(self, zeitzone: dt.tzinfo) -> dict[str, Any]:
        return {
            "raum": self.raum_id,
            "themenfeld": self.themenfeld_slug,
            "stabsstelle": self.stabsstelle,
            "person": self.person,
            "art": self.art,
            "auszug": self.auszug,
            "erstellt": austauschzeit(self.erstellt, zeitzone),
            "aufgegeben": austauschzeit(self.aufgegeben, zeitzone),
            "fehler": self.fehler,
        }


@dataclass(frozen=True, slots=True)
class Feldbericht:
    themenfeld_slug: str
    themenfeld_name: str
    ueberfaellig_nach_tagen: int
    # Stand am Ende des Zeitraums, je aktivem Projekt; immer alle vier Ampelwerte als Schlüssel.
    ampeln: Mapping[Ampel, int]
    ohne_meldung: int
    wechsel: tuple[Wechsel, ...]
    rot_gelb: tuple[RotGelbProjekt, ...]
    ueberfaellig: tuple[UeberfaelligesProjekt, ...]
    neu: tuple[Strukturaenderung, ...]
    archiviert: tuple[Strukturaenderung, ...]
    uebersprungene_abfragen: tuple[dt.datetime, ...]

    @property
    def projekte(self) -> int:
        return sum(self.ampeln.values()) + self.ohne_meldung

    @property
    def abgeschlossen(self) -> tuple[Wechsel, ...]:
        """Die Wechsel zu „abgeschlossen“: die im Zeitraum fertig gewordenen Projekte."""
        return tuple(w for w in self.wechsel if w.neu is Ampel.ABGESCHLOSSEN)

    @property
    def projektslugs(self) -> tuple[str, ...]:
        """Jedes Projekt, das dieser Bericht nennt, einmal, in der Reihenfolge der Nennung."""
        slugs = [
            *(w.projekt_slug for w in self.wechsel),
            *(p.projekt_slug for p in self.rot_gelb),
            *(p.projekt_slug for p in self.ueberfaellig),
            *(p.projekt_slug for p in self.neu),
            *(p.projekt_slug for p in self.archiviert),
        ]
        return tuple(dict.fromkeys(slugs))

    def als_dict(self, zeitzone: dt.tzinfo) -> dict[str, Any]:
        return {
            "slug": self.themenfeld_slug,
            "name": self.themenfeld_name,
            "ueberfaellig_nach_tagen": self.ueberfaellig_nach_tagen,
            "projekte": self.projekte,
            "ampeln": _zaehlung(self.ampeln),
            "ohne_meldung": self.ohne_meldung,
            "wechsel": [w.als_dict(zeitzone) for w in self.wechsel],
            "rot_gelb": [p.als_dict(zeitzone) for p in self.rot_gelb],
            "ueberfaellig": [p.als_dict(zeitzone) for p in self.ueberfaellig],
            "neu": [p.als_dict(zeitzone) for p in self.neu],
            "archiviert": [p.als_dict(zeitzone) for p in self.archiviert],
            "abgeschlossen": [w.als_dict(zeitzone) for w in self.abgeschlossen],
            "uebersprungene_abfragen": [
                austauschzeit(z, zeitzone) for z in self.uebersprungene_abfragen
            ],
        }


@dataclass(frozen=True, slots=True)
class Wochenbericht:
    """Der Bericht über (`von`, `bis`]; alle Stände sind die zu `bis`."""

    von: dt.datetime
    bis: dt.datetime
    felder: tuple[Feldbericht, ...]
    # Alle übergebenen, zeitlich geordnet; auch solche zu Feldern, die es nicht mehr gibt.
    uebersprungene_abfragen: tuple[UebersprungeneAbfrage, ...]
    # Im Zeitraum aufgegebene Nachrichten des Bots, in der Reihenfolge des Aufgebens.
    nicht_zugestellt: tuple[NichtZugestellt, ...] = ()

    @property
    def ampeln(self) -> dict[Ampel, int]:
        return {a: sum(f.ampeln.get(a, 0) for f in self.felder) for a in Ampel}

    @property
    def ohne_meldung(self) -> int:
        return sum(f.ohne_meldung for f in self.felder)

    @property
    def projekte(self) -> int:
        return sum(f.projekte for f in self.felder)

    @property
    def anzahl_wechsel(self) -> int:
        return sum(len(f.wechsel) for f in self.felder)

    @property
    def anzahl_ueberfaellig(self) -> int:
        return sum(len(f.ueberfaellig) for f in self.felder)

    @property
    def anzahl_neu(self) -> int:
        return sum(len(f.neu) for f in self.felder)

    @property
    def anzahl_archiviert(self) -> int:
        return sum(len(f.archiviert) for f in self.felder)

    @property
    def anzahl_abgeschlossen(self) -> int:
        return sum(len(f.abgeschlossen) for f in self.felder)

    def als_dict(self, zeitzone: dt.tzinfo = dt.UTC) -> dict[str, Any]:
        """Das Austauschformat (JSON-fähig); Zeitpunkte in ISO 8601 mit Versatz zu `zeitzone`."""
        return {
            "format": "klimabot-wochenbericht",
            "version": FORMATVERSION,
            "von": austauschzeit(self.von, zeitzone),
            "bis": austauschzeit(self.bis, zeitzone),
            "gesamt": {
                "themenfelder": len(self.felder),
                "projekte": self.projekte,
                "ampeln": _zaehlung(self.ampeln),
                "ohne_meldung": self.ohne_meldung,
                "wechsel": self.anzahl_wechsel,
                "ueberfaellig": self.anzahl_ueberfaellig,
                "neu": self.anzahl_neu,
                "archiviert": self.anzahl_archiviert,
                "abgeschlossen": self.anzahl_abgeschlossen,
                "uebersprungene_abfragen": len(self.uebersprungene_abfragen),
                "nicht_zugestellt": len(self.nicht_zugestellt),
            },
            "themenfelder": [f.als_dict(zeitzone) for f in self.felder],
            "uebersprungene_abfragen": [
                {"themenfeld": u.themenfeld_slug, "faellig": austauschzeit(u.faellig, zeitzone)}
                for u in self.uebersprungene_abfragen
            ],
            "nicht_zugestellt": [n.als_dict(zeitzone) for n in self.nicht_zugestellt],
        }


# --- Zusammenstellen ---------------------------------------------------------------------


async def stelle_wochenbericht_zusammen(
    sitzung: AsyncSession,
    *,
    von: dt.datetime,
    bis: dt.datetime,
    uebersprungene_abfragen: Sequence[tuple[str, dt.datetime]] = (),
) -> Wochenbericht:
    """Der Bericht über (`von`, `bis`] für alle aktiven Themenfelder, in fünf Abfragen.

    Stände und Zahlen sind die zu `bis`; Meldungen danach zählen nicht. Welche Projekte
    und Felder aktiv sind, ist der heutige Stand (wann etwas archiviert wurde, weiß nur
    das Änderungsprotokoll, und daraus kommen die Listen „neu“ und „archiviert“).

    `uebersprungene_abfragen` sind (Themenfeld-Slug, Fälligkeit) der Abfragen, die im
    Zeitraum ausfielen; der Bericht nennt sie, die Datenbank weiß davon nichts. Nicht
    zugestellte Nachrichten nennt er alle, die im Zeitraum aufgegeben wurden.
    """
    if von > bis:
        raise ValueError(f"von ({von.isoformat()}) liegt nach bis ({bis.isoformat()})")
    felder = await aktive_themenfelder(sitzung)
    staende = await alle_letzten_meldungen(sitzung, bis=bis)
    alle_wechsel = await ampel_wechsel(sitzung, von, bis)
    # Das Protokoll reicht so weit zurück wie die längste Frist: ein Projekt, das jünger ist
    # als die Frist seines Felds, ist nicht überfällig, auch wenn es noch nie gemeldet hat.
    laengste_frist = dt.timedelta(days=max((f.ueberfaellig_nach_tagen for f in felder), default=0))
    lebenslauf = await projektaenderungen(sitzung, min(von, bis - laengste_frist), bis)

    # Die letzte Aufnahme (angelegt oder wieder aktiviert) je Projekt für `still_seit()`; die
    # Erinnerungen (`modelle.versand.ueberfaellige_projekte`) lesen sie aus demselben Protokoll.
    aufgenommen_am: dict[int, dt.datetime] = {}
    for aenderung in lebenslauf:
        if aenderung.ereignis is not Projektereignis.ARCHIVIERT:
            bisher = aufgenommen_am.get(aenderung.projekt_id)
            if bisher is None or aenderung.zeitpunkt > bisher:
                aufgenommen_am[aenderung.projekt_id] = aenderung.zeitpunkt
    im_zeitraum = [a for a in lebenslauf if a.zeitpunkt > von]
    neu, archiviert = strukturaenderungen(im_zeitraum, {s.projekt_id: s.ampel for s in staende})
    # Ein neues Projekt hatte vorher keinen Stand; seinen ersten nennt die Zeile „neu“,
    # ein Wechsel „ohne Meldung → grün“ daneben wäre dieselbe Nachricht noch einmal.
    neue_projekte = {a.projekt_id for a in im_zeitraum if a.ereignis is Projektereignis.ANGELEGT}
    wechsel = [w for w in alle_wechsel if not (w.alt is None and w.projekt_id in neue_projekte)]

    ausgelassen = tuple(
        sorted(
            (UebersprungeneAbfrage(slug, faellig) for slug, faellig in uebersprungene_abfragen),
            key=lambda u: (u.faellig, u.themenfeld_slug),
        )
    )
    staende_je_feld = _je_feld(staende, lambda s: s.themenfeld_id)
    wechsel_je_feld = _je_feld(wechsel, lambda w: w.themenfeld_id)
    berichte = []
    for feld in felder:
        eigene = staende_je_feld.get(feld.themenfeld_id, [])
        ampeln = Counter({ampel: 0 for ampel in Ampel})
        ampeln.update(s.ampel for s in eigene if s.ampel is not None)
        berichte.append(
            Feldbericht(
                themenfeld_slug=feld.themenfeld_slug,
                themenfeld_name=feld.themenfeld_name,
                ueberfaellig_nach_tagen=feld.ueberfaellig_nach_tagen,
                ampeln=dict(ampeln),
                ohne_meldung=sum(1 for s in eigene if s.ampel is None),
                wechsel=tuple(_als_wechsel(w) for w in wechsel_je_feld.get(feld.themenfeld_id, [])),
                rot_gelb=tuple(_rot_gelb(eigene)),
                ueberfaellig=tuple(
                    _ueberfaellig(eigene, bis, feld.ueberfaellig_nach_tagen, aufgenommen_am)
                ),
                neu=tuple(neu.get(feld.themenfeld_id, [])),
                archiviert=tuple(archiviert.get(feld.themenfeld_id, [])),
                uebersprungene_abfragen=tuple(
                    u.faellig for u in ausgelassen if u.themenfeld_slug == feld.themenfeld_slug
                ),
            )
        )
    return Wochenbericht(
        von=von,
        bis=bis,
        felder=tuple(berichte),
        uebersprungene_abfragen=ausgelassen,
        nicht_zugestellt=tuple(await nicht_zugestellte(sitzung, von=von, bis=bis)),
    )


# Länger wird der Auszug einer nicht zugestellten Nachricht nicht: er soll sie nur erkennbar machen.
AUSZUG_HOECHSTENS = 80


def _auszug(ereignistyp: str, inhalt: Mapping[str, Any]) -> tuple[str, str]:
    if ereignistyp == "m.reaction":
        bezug = inhalt.get("m.relates_to")
        schluessel = bezug.get("key") if isinstance(bezug, dict) else None
        return "reaktion", str(schluessel or "")
    zeilen = [z.strip() for z in str(inhalt.get("body", "")).splitlines() if z.strip()]
    erste = zeilen[0] if zeilen else ""
    if len(erste) > AUSZUG_HOECHSTENS:
        erste = erste[: AUSZUG_HOECHSTENS - 1].rstrip() + "…"
    return "nachricht", erste


async def nicht_zugestellte(
    sitzung: AsyncSession, *, von: dt.datetime, bis: dt.datetime
) -> list[NichtZugestellt]:
    """Die Nachrichten, die der Bot nach (`von`, `bis`] aufgegeben hat, in einer Abfrage."""
    zeilen = await sitzung.execute(
        select(
            Ausgang.raum_id,
            Ausgang.ereignistyp,
            Ausgang.inhalt,
            Ausgang.erstellt,
            Ausgang.aufgegeben_am,
            Ausgang.letzter_fehler,
            Themenfeld.slug,
            Themenfeld.name,
            Raum.ist_stabsstelle,
            Direktraum.matrix_id,
        )
        .outerjoin(Raum, Raum.raum_id == Ausgang.raum_id)
        .outerjoin(Themenfeld, Themenfeld.id == Raum.themenfeld_id)
        .outerjoin(Direktraum, Direktraum.raum_id == Ausgang.raum_id)
        .where(Ausgang.aufgegeben_am > von, Ausgang.aufgegeben_am <= bis)
        .order_by(Ausgang.aufgegeben_am, Ausgang.id)
    )
    ergebnis = []
    for raum_id, typ, inhalt, erstellt, aufgegeben, fehler, slug, name, stab, person in zeilen:
        # Ein Direktraum, der nie entstand, steht als Platzhalter mit der Person da.
        platzhalter = raum_id.startswith(DIREKTRAUM_PLATZHALTER)
        assert aufgegeben is not None  # durch die Bedingung oben
        art, auszug = _auszug(typ, inhalt)
        ergebnis.append(
            NichtZugestellt(
                raum_id=None if platzhalter else raum_id,
                themenfeld_slug=slug,
                themenfeld_name=name,
                stabsstelle=bool(stab),
                person=raum_id.removeprefix(DIREKTRAUM_PLATZHALTER) if platzhalter else person,
                art=art,
                auszug=auszug,
                erstellt=erstellt,
                aufgegeben=aufgegeben,
                fehler=fehler or "",
            )
        )
    return ergebnis


def _je_feld(eintraege: Iterable[_T], feld_von: Callable[[_T], int]) -> dict[int, list[_T]]:
    ergebnis: dict[int, list[_T]] = {}
    for eintrag in eintraege:
        ergebnis.setdefault(feld_von(eintrag), []).append(eintrag)
    return ergebnis


def _als_wechsel(wechsel: Ampelwechsel) -> Wechsel:
    return Wechsel(
        projekt_slug=wechsel.projekt_slug,
        projekt_titel=wechsel.projekt_titel,
        alt=wechsel.alt,
        neu=wechsel.neu,
        zeitpunkt=wechsel.zeitpunkt,
        autor=wechsel.autor,
        text=wechsel.text,
        archiviert=wechsel.archiviert,
    )


def _rot_gelb(staende: Iterable[Projektstand]) -> Iterable[RotGelbProjekt]:
    # Rot zuerst: das braucht die Aufmerksamkeit der Stabsstelle am dringendsten.
    for farbe in (Ampel.ROT, Ampel.GELB):
        for stand in staende:
            if stand.ampel is not farbe:
                continue
            assert stand.zeitpunkt is not None  # eine Ampel gibt es nur mit Meldung
            yield RotGelbProjekt(
                projekt_slug=stand.projekt_slug,
                projekt_titel=stand.projekt_titel,
                ampel=farbe,
                fortschritt=stand.fortschritt,
                herausforderungen=stand.herausforderungen,
                text=stand.text or "",
                zeitpunkt=stand.zeitpunkt,
                autor=stand.autor,
            )


def _ueberfaellig(
    staende: Iterable[Projektstand],
    bis: dt.datetime,
    tage: int,
    aufgenommen_am: Mapping[int, dt.datetime],
) -> Iterable[UeberfaelligesProjekt]:
    # Dieselbe Regel wie bei den Erinnerungen, zum Stand `bis`.
    for stand in staende:
        seit = still_seit(stand.zeitpunkt, aufgenommen_am.get(stand.projekt_id))
        if not ist_ueberfaellig(stand.ampel, seit, frist_tage=tage, stichtag=bis):
            continue
        yield UeberfaelligesProjekt(
            projekt_slug=stand.projekt_slug,
            projekt_titel=stand.projekt_titel,
            letzte_meldung=stand.zeitpunkt,
            letzte_ampel=stand.ampel,
            tage_ohne_meldung=None if stand.zeitpunkt is None else (bis - stand.zeitpunkt).days,
        )


def strukturaenderungen(
    lebenslauf: Sequence[Projektaenderung], ampeln: Mapping[int, Ampel | None]
) -> tuple[dict[int, list[Strukturaenderung]], dict[int, list[Strukturaenderung]]]:
    """Die Zeilen „neu“ und „archiviert“ je Themenfeld aus dem `lebenslauf` eines Zeitraums
    (zeitlich geordnet, wie `projektaenderungen()` ihn liefert), nach dem, was an seinem Ende
    gilt; `ampeln` ist der Stand zum Ende je Projekt-Id, für die neuen Projekte.

    Archiviert und in derselben Woche wieder aktiviert ist keine Änderung; angelegt und
    wieder archiviert steht in beiden Listen, denn beides ist geschehen.
    """
    angelegt: dict[int, Projektaenderung] = {}
    # Je Projekt das erste und das letzte Archivierungsereignis im Zeitraum.
    erstes: dict[int, Projektaenderung] = {}
    letztes: dict[int, Projektaenderung] = {}
    for aenderung in lebenslauf:
        if aenderung.ereignis is Projektereignis.ANGELEGT:
            angelegt.setdefault(aenderung.projekt_id, aenderung)
        else:
            erstes.setdefault(aenderung.projekt_id, aenderung)
            letztes[aenderung.projekt_id] = aenderung
    neu: dict[int, list[Strukturaenderung]] = {}
    archiviert: dict[int, list[Strukturaenderung]] = {}
    for aenderung in angelegt.values():
        neu.setdefault(aenderung.themenfeld_id, []).append(
            _strukturaenderung(aenderung, ampel=ampeln.get(aenderung.projekt_id))
        )
    for projekt_id, zuletzt in letztes.items():
        # Jedes Ereignis kehrt den Zustand um: gleichen sich erstes und letztes, steht das
        # Projekt am Ende anders da als am Anfang, sonst ist es hin und zurück gegangen.
        if erstes[projekt_id].ereignis is not zuletzt.ereignis:
            continue
        if zuletzt.ereignis is Projektereignis.ARCHIVIERT:
            archiviert.setdefault(zuletzt.themenfeld_id, []).append(_strukturaenderung(zuletzt))
        elif projekt_id not in angelegt:
            neu.setdefault(zuletzt.themenfeld_id, []).append(
                _strukturaenderung(zuletzt, ampel=ampeln.get(projekt_id), wieder_aktiviert=True)
            )
    for liste in (*neu.values(), *archiviert.values()):
        liste.sort(key=lambda s: s.zeitpunkt)
    return neu, archiviert


def _strukturaenderung(
    aenderung: Projektaenderung, *, ampel: Ampel | None = None, wieder_aktiviert: bool = False
) -> Strukturaenderung:
    return Strukturaenderung(
        projekt_slug=aenderung.projekt_slug,
        projekt_titel=aenderung.projekt_titel,
        zeitpunkt=aenderung.zeitpunkt,
        wer=aenderung.wer,
        ampel=ampel,
        wieder_aktiviert=wieder_aktiviert,
    )


# --- Ampelverlauf für das Diagramm ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ampelzaehlung:
    # Immer alle vier Ampelwerte als Schlüssel, auch mit 0.
    ampeln: Mapping[Ampel, int]
    ohne_meldung: int


@dataclass(frozen=True, slots=True)
class Feldverlauf:
    themenfeld_slug: str
    themenfeld_name: str
    # Eine Zählung je Stichtag, in der Reihenfolge von `Ampelverlauf.stichtage`.
    zaehlungen: tuple[Ampelzaehlung, ...]


@dataclass(frozen=True, slots=True)
class Ampelverlauf:
    """Je aktivem Themenfeld und Stichtag: wie viele seiner aktiven Projekte wie standen."""

    # In Ortszeit, ältester zuerst; der letzte ist das `bis` des Aufrufs.
    stichtage: tuple[dt.datetime, ...]
    felder: tuple[Feldverlauf, ...]


async def ampel_verlauf(
    sitzung: AsyncSession, *, bis: dt.datetime, wochen: int = 12, zeitzone: dt.tzinfo
) -> Ampelverlauf:
    """Der Stand zu `bis` und zu jedem der `wochen` − 1 Wochenenden davor, in zwei Abfragen.

    Gezählt werden die heute aktiven Projekte mit ihrer jeweils neuesten gültigen Meldung;
    ein Projekt ohne Meldung bis dahin zählt als „ohne Meldung“.
    """
    if wochen < 1:
        raise ValueError(f"wochen muss mindestens 1 sein: {wochen}")
    ende = bis.astimezone(zeitzone)
    # Arithmetik auf der Wanduhr: derselbe Wochentag zur selben Ortszeit, auch über die
    # Zeitumstellung hinweg (ein Freitag 14:00 bleibt 14:00, nicht 13:00 oder 15:00).
    stichtage = tuple(ende - dt.timedelta(weeks=k) for k in reversed(range(wochen)))
    return await ampel_verlauf_zu(sitzung, stichtage)


async def ampel_verlauf_zu(sitzung: AsyncSession, stichtage: Sequence[dt.datetime]) -> Ampelverlauf:
    """Der Stand zu jedem der `stichtage` (aufsteigend), in zwei Abfragen; wie `ampel_verlauf`."""
    stichtage = tuple(stichtage)
    felder = await aktive_themenfelder(sitzung)
    zaehler: dict[int, list[Counter[Ampel | None]]] = {
        f.themenfeld_id: [Counter() for _ in stichtage] for f in felder
    }
    for zeile in await ampeln_zu_stichtagen(sitzung, stichtage):
        je_stichtag = zaehler.get(zeile.themenfeld_id)
        if je_stichtag is not None:  # sonst zwischen den beiden Abfragen archiviert
            je_stichtag[zeile.stichtag][zeile.ampel] += zeile.anzahl
    return Ampelverlauf(
        stichtage=stichtage,
        felder=tuple(
            Feldverlauf(
                themenfeld_slug=f.themenfeld_slug,
                themenfeld_name=f.themenfeld_name,
                zaehlungen=tuple(
                    Ampelzaehlung(ampeln={a: z[a] for a in Ampel}, ohne_meldung=z[None])
                    for z in zaehler[f.themenfeld_id]
                ),
            )
            for f in felder
        ),
    )
