"""Die Strukturdatei: Themenfelder, Personen und Strategieprojekte als TOML.

Die Stabsstelle pflegt die Struktur als Datei unter Versionskontrolle. Dieses Modul liest
und prüft sie (alle Probleme auf einmal, auf Deutsch), gleicht die Datenbank mit ihr ab
und schreibt den aktiven Stand wieder als Datei. Der Abgleich ändert nur, was sich
unterscheidet, und protokolliert jede Änderung im Änderungsprotokoll.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from modelle.basis import Basis, jetzt
from modelle.stand import neueste_meldung
from modelle.tabellen import (
    Aenderung,
    Person,
    Raum,
    Rollenzuweisung,
    Statusmeldung,
    Strategieprojekt,
    Themenfeld,
)
from modelle.werte import (
    Ampel,
    Quelle,
    Rolle,
    erstes_steuerzeichen,
    ist_matrix_id,
    ist_raumadresse,
    normalisiere,
)
from modelle.zeitplan import Zeitplan, ZeitplanFehler

UEBERFAELLIG_VORGABE = 14
UEBERFAELLIG_HOECHSTENS = 365

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")

_OBERSTE_SCHLUESSEL = ("themenfeld", "person", "projekt")
_THEMENFELD_SCHLUESSEL = ("slug", "name", "aliase", "raum", "abfrage", "ueberfaellig_nach_tagen")
_PERSON_SCHLUESSEL = ("matrix_id", "name", "patin", "koordination", "stabsstelle")
_PROJEKT_SCHLUESSEL = (
    "slug",
    "themenfeld",
    "titel",
    "beschreibung",
    "aliase",
    "wirkungspotenzial",
    "start",
    "ende",
    "ampel",
    "fortschritt",
)

_KOPF_EXPORT = """\
# Struktur des Klimabots: Themenfelder, Personen und Strategieprojekte.
# Erzeugt mit „klimabot struktur export“; einlesen mit „klimabot struktur import DATEI“.
# ampel/fortschritt zeigen den aktuellen Stand; beim Import gelten sie nur für Projekte,
# zu denen es noch keine Statusmeldung gibt.
"""


# --- Beschreibung der Struktur -------------------------------------------------------------


@dataclass(frozen=True)
class ThemenfeldEintrag:
    slug: str
    name: str
    aliase: tuple[str, ...] = ()
    raum: str | None = None
    # Kanonische Schreibweise eines `Zeitplan`s; None = Vorgabe aus der Konfiguration.
    abfrage: str | None = None
    ueberfaellig_nach_tagen: int = UEBERFAELLIG_VORGABE


@dataclass(frozen=True)
class PersonEintrag:
    matrix_id: str
    name: str
    patin: tuple[str, ...] = ()
    koordination: tuple[str, ...] = ()
    stabsstelle: bool = False


@dataclass(frozen=True)
class ProjektEintrag:
    slug: str
    themenfeld: str
    titel: str
    beschreibung: str = ""
    aliase: tuple[str, ...] = ()
    wirkungspotenzial: float | None = None
    start: dt.date | None = None
    ende: dt.date | None = None
    # Anfangsstand: gilt nur, solange das Projekt keine Statusmeldung hat.
    ampel: Ampel | None = None
    fortschritt: int | None = None


@dataclass(frozen=True)
class Struktur:
    """Eine vollständig geprüfte Strukturdatei; die Reihenfolge ist die der Datei."""

    themenfelder: tuple[ThemenfeldEintrag, ...]
    personen: tuple[PersonEintrag, ...]
    projekte: tuple[ProjektEintrag, ...]
    dateiname: str = "Struktur"


class StrukturFehler(Exception):
    """Die Struktur ist ungültig; `probleme` nennt jedes Problem in einer deutschen Zeile."""

    def __init__(self, probleme: Sequence[str]) -> None:
        self.probleme = list(probleme)
        super().__init__("\n".join(self.probleme))


# --- Lesen und Prüfen ------------------------------------------------------------------------


def lies_struktur(pfad: Path) -> Struktur:
    """Liest die Datei `pfad`; auch eine fehlende oder unlesbare Datei ist ein `StrukturFehler`."""
    try:
        text = pfad.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StrukturFehler([f"{pfad}: Datei nicht gefunden"]) from None
    except UnicodeDecodeError:
        raise StrukturFehler([f"{pfad.name}: keine UTF-8-Textdatei"]) from None
    except OSError as fehler:
        raise StrukturFehler([f"{pfad}: nicht lesbar ({fehler.strerror})"]) from None
    return parse_struktur(text, pfad.name)


def parse_struktur(text: str, dateiname: str) -> Struktur:
    """Liest und prüft eine Strukturdatei; `StrukturFehler` nennt alle Probleme auf einmal."""
    try:
        daten = tomllib.loads(text)
    except tomllib.TOMLDecodeError as fehler:
        raise StrukturFehler([_toml_problem(fehler, text, dateiname)]) from None

    pruefung = _Pruefung(dateiname)
    for schluessel in daten:
        if schluessel not in _OBERSTE_SCHLUESSEL:
            erlaubt = ", ".join(f"[[{s}]]" for s in _OBERSTE_SCHLUESSEL)
            hinweis = _vorschlag(schluessel, _OBERSTE_SCHLUESSEL) or f" (erlaubt: {erlaubt})"
            pruefung.problem(f"unbekannter Schlüssel „{schluessel}“{hinweis}")
    felder = [
        _lies_themenfeld(_Eintrag(pruefung, "Themenfeld", nr, roh, _THEMENFELD_SCHLUESSEL, "slug"))
        for nr, roh in enumerate(pruefung.tabellen(daten, "themenfeld"), 1)
    ]
    personen = [
        _lies_person(_Eintrag(pruefung, "Person", nr, roh, _PERSON_SCHLUESSEL, "matrix_id"))
        for nr, roh in enumerate(pruefung.tabellen(daten, "person"), 1)
    ]
    projekte = [
        _lies_projekt(_Eintrag(pruefung, "Projekt", nr, roh, _PROJEKT_SCHLUESSEL, "slug"))
        for nr, roh in enumerate(pruefung.tabellen(daten, "projekt"), 1)
    ]
    if not felder and daten.get("themenfeld", []) == []:
        pruefung.problem("kein Themenfeld angegeben (mindestens ein [[themenfeld]] nötig)")
    _pruefe_themenfelder(felder)
    _pruefe_personen(felder, personen)
    _pruefe_projekte(felder, projekte)

    if pruefung.probleme:
        raise StrukturFehler(pruefung.probleme)
    return Struktur(
        themenfelder=tuple(e for _, e in felder),
        personen=tuple(e for _, e in personen),
        projekte=tuple(e for _, e in projekte),
        dateiname=dateiname,
    )


_TOML_MELDUNGEN = (
    ("Invalid value", "ungültiger Wert"),
    ("Invalid statement", "ungültige Anweisung"),
    ("Expected newline or end of document", "nach einem Wert muss die Zeile enden"),
    ("Expected '=' after a key", "„=“ nach dem Schlüssel fehlt"),
    ("Expected ']]'", "„]]“ am Ende der Überschrift fehlt"),
    ("Expected ']'", "„]“ am Ende der Überschrift fehlt"),
    ("Expected", "erwartetes Zeichen fehlt"),
    ("Unterminated string", "Text ohne schließendes Anführungszeichen"),
    ("Unclosed array", "Liste ohne schließende „]“"),
    ("Unclosed inline table", "Tabelle ohne schließende „}“"),
    ("Cannot overwrite a value", "Schlüssel kommt doppelt vor"),
    ("Duplicate inline table key", "Schlüssel kommt doppelt vor"),
    ("Cannot declare", "Tabelle doppelt angegeben"),
    ("Cannot mutate", "Tabelle doppelt angegeben"),
    ("Cannot redefine", "Tabelle doppelt angegeben"),
    ("Invalid initial character for a key", "ungültiges Zeichen am Anfang eines Schlüssels"),
    ("Invalid date or datetime", "ungültiges Datum"),
    ("Illegal character", "unzulässiges Zeichen"),
    ("Found invalid character", "unzulässiges Zeichen"),
    ("Unescaped", "Rückstrich „\\“ ohne gültige Escape-Folge"),
    ("Invalid hex value", "ungültige Unicode-Escape-Folge"),
    ("Escaped character", "ungültige Unicode-Escape-Folge"),
)


def _toml_problem(fehler: tomllib.TOMLDecodeError, text: str, dateiname: str) -> str:
    # tomllib (3.11) nennt die Stelle nur im englischen Meldungstext.
    meldung = str(fehler)
    art = next((de for en, de in _TOML_MELDUNGEN if meldung.startswith(en)), "Syntaxfehler")
    if meldung.startswith("Illegal character '\\n'"):
        # Ein Zeilenende mitten im Text heißt fast immer: das Anführungszeichen fehlt.
        art = "Text ohne schließendes Anführungszeichen"
    stelle = re.search(r"\(at line (\d+), column (\d+)\)", meldung)
    if stelle is not None:
        return f"{dateiname}, Zeile {stelle[1]}: ungültiges TOML ({art}, Spalte {stelle[2]})"
    letzte_zeile = max(len(text.splitlines()), 1)
    return f"{dateiname}, Zeile {letzte_zeile}: ungültiges TOML ({art}, am Dateiende)"


class _Pruefung:
    """Sammelt die Probleme einer Datei, damit alle auf einmal gemeldet werden."""

    def __init__(self, dateiname: str) -> None:
        self.dateiname = dateiname
        self.probleme: list[str] = []

    def problem(self, text: str, wo: str | None = None) -> None:
        ort = f"{self.dateiname}, {wo}" if wo else self.dateiname
        self.probleme.append(f"{ort}: {text}")

    def tabellen(self, daten: Mapping[str, Any], schluessel: str) -> list[Mapping[str, Any]]:
        wert = daten.get(schluessel, [])
        if not isinstance(wert, list) or not all(isinstance(e, dict) for e in wert):
            self.problem(
                f"„{schluessel}“ muss eine Liste von Einträgen sein, "
                f"je Eintrag eine Überschrift [[{schluessel}]]"
            )
            return []
        return wert


class _Eintrag:
    """Ein Eintrag beim Prüfen: liest seine Werte und meldet Probleme unter seinem Namen.

    Ungültige Werte werden als None bzw. leer zurückgegeben, damit die Prüfung weiterläuft
    und auch die übrigen Probleme findet; eine Struktur entsteht dann nicht.
    """

    def __init__(
        self,
        pruefung: _Pruefung,
        art: str,
        nummer: int,
        daten: Mapping[str, Any],
        erlaubt: tuple[str, ...],
        kennung: str,
    ) -> None:
        self._pruefung = pruefung
        self.daten = daten
        name = daten.get(kennung)
        # Ein Name mit Steuerzeichen (etwa ESC) käme so ins Terminal: dann die Nummer.
        self.bezeichnung = (
            f"{art} „{name.strip()}“"
            if isinstance(name, str) and name.strip() and erstes_steuerzeichen(name) is None
            else f"{art} Nr. {nummer}"
        )
        for schluessel in daten:
            if schluessel not in erlaubt:
                self.problem(
                    f"unbekannter Schlüssel „{schluessel}“{_vorschlag(schluessel, erlaubt)}"
                )

    def problem(self, text: str) -> None:
        self._pruefung.problem(text, self.bezeichnung)

    def _wert(self, schluessel: str, pflicht: bool) -> Any:
        if schluessel not in self.daten:
            if pflicht:
                self.problem(f"Pflichtangabe „{schluessel}“ fehlt")
            return None
        return self.daten[schluessel]

    def _falscher_typ(self, schluessel: str, erwartet: str, wert: object) -> None:
        self.problem(f"„{schluessel}“ muss {erwartet} sein, nicht {_zeige(wert)}")

    def text(
        self,
        schluessel: str,
        *,
        pflicht: bool = False,
        hoechstens: int = 200,
        leer_ok: bool = False,
        mehrzeilig: bool = False,
    ) -> str | None:
        wert = self._wert(schluessel, pflicht)
        if wert is None:
            return None
        if not isinstance(wert, str):
            self._falscher_typ(schluessel, "ein Text", wert)
            return None
        wert = wert.strip()
        if not wert and not leer_ok:
            self.problem(f"„{schluessel}“ ist leer")
            return None
        if len(wert) > hoechstens:
            self.problem(f"„{schluessel}“ ist zu lang (höchstens {hoechstens} Zeichen)")
            return None
        if not self._ohne_steuerzeichen(schluessel, wert, mehrzeilig=mehrzeilig):
            return None
        return wert

    def _ohne_steuerzeichen(self, schluessel: str, wert: str, *, mehrzeilig: bool) -> bool:
        """Namen und Titel landen in Tabellen, im Terminal und in der CSV-Datei: ein
        Zeilenumbruch zerreißt sie, ein ESC steuert das Terminal. Die Datei wird darum
        nicht still geändert, sondern das Problem genannt."""
        zeichen = erstes_steuerzeichen(wert, mehrzeilig=mehrzeilig)
        if zeichen is None:
            return True
        self.problem(
            f"„{schluessel}“ enthält ein Steuerzeichen (U+{ord(zeichen):04X})"
            + ("" if mehrzeilig else "; Zeilenumbrüche und Tabs gehen hier nicht")
        )
        return False

    def slug(self, schluessel: str) -> str:
        wert = self.text(schluessel, pflicht=True, hoechstens=64)
        if wert is None:
            return ""
        if not _SLUG.fullmatch(wert):
            vorschlag = re.sub(r"[^a-z0-9]+", "-", normalisiere(wert)).strip("-")
            self.problem(
                f"„{wert}“ ist kein gültiger {schluessel.capitalize()} "
                f"(nur a–z, 0–9 und Bindestrich, z. B. „{vorschlag or 'energie'}“)"
            )
            return ""
        return wert

    def textliste(self, schluessel: str) -> tuple[str, ...]:
        wert = self._wert(schluessel, pflicht=False)
        if wert is None:
            return ()
        if not isinstance(wert, list) or not all(isinstance(e, str) for e in wert):
            self._falscher_typ(schluessel, 'eine Liste von Texten (z. B. ["a", "b"])', wert)
            return ()
        eintraege: list[str] = []
        gesehen: set[str] = set()
        for roh in wert:
            eintrag = roh.strip()
            if not eintrag:
                self.problem(f"„{schluessel}“ enthält einen leeren Text")
                continue
            if not self._ohne_steuerzeichen(schluessel, eintrag, mehrzeilig=False):
                continue
            if normalisiere(eintrag) in gesehen:
                self.problem(f"„{schluessel}“ enthält „{eintrag}“ doppelt")
                continue
            gesehen.add(normalisiere(eintrag))
            eintraege.append(eintrag)
        return tuple(eintraege)

    def ganzzahl(self, schluessel: str, kleinster: int, groesster: int) -> int | None:
        wert = self._wert(schluessel, pflicht=False)
        if wert is None:
            return None
        # bool ist in Python eine Unterklasse von int, in TOML aber kein Zahlwert.
        if isinstance(wert, bool) or not isinstance(wert, int):
            self._falscher_typ(schluessel, "eine ganze Zahl", wert)
            return None
        if not kleinster <= wert <= groesster:
            self.problem(
                f"{_ANZEIGENAME.get(schluessel, schluessel)} {wert} liegt nicht zwischen "
                f"{kleinster} und {groesster}"
            )
            return None
        return wert

    def zahl(self, schluessel: str) -> float | None:
        wert = self._wert(schluessel, pflicht=False)
        if wert is None:
            return None
        if isinstance(wert, bool) or not isinstance(wert, int | float):
            self._falscher_typ(schluessel, "eine Zahl", wert)
            return None
        if not math.isfinite(wert) or wert < 0:
            self.problem(f"„{schluessel}“ muss eine Zahl ab 0 sein, nicht {_zeige(wert)}")
            return None
        return float(wert)

    def datum(self, schluessel: str) -> dt.date | None:
        wert = self._wert(schluessel, pflicht=False)
        if wert is None:
            return None
        # datetime ist eine Unterklasse von date; gemeint ist hier nur der Tag.
        if isinstance(wert, dt.datetime) or not isinstance(wert, dt.date):
            self._falscher_typ(
                schluessel, "ein Datum ohne Anführungszeichen (z. B. 2024-01-31)", wert
            )
            return None
        return wert

    def ja_nein(self, schluessel: str) -> bool:
        wert = self._wert(schluessel, pflicht=False)
        if wert is None:
            return False
        if not isinstance(wert, bool):
            self._falscher_typ(schluessel, "true oder false", wert)
            return False
        return wert


_ANZEIGENAME = {
    "fortschritt": "Fortschritt",
    "ueberfaellig_nach_tagen": "„ueberfaellig_nach_tagen“",
}


def _lies_themenfeld(eintrag: _Eintrag) -> tuple[_Eintrag, ThemenfeldEintrag]:
    slug = eintrag.slug("slug")
    name = eintrag.text("name", pflicht=True) or ""
    aliase = eintrag.textliste("aliase")
    raum = eintrag.text("raum", hoechstens=255)
    if raum is not None and not ist_raumadresse(raum):
        eintrag.problem(
            f"„{raum}“ ist keine gültige Raumadresse (Alias #name:server oder Raum-ID !id:server)"
        )
        raum = None
    abfrage = eintrag.text("abfrage")
    if abfrage is not None:
        try:
            abfrage = str(Zeitplan.aus_text(abfrage))
        except ZeitplanFehler as fehler:
            eintrag.problem(f"Abfrage „{abfrage}“ ungültig: {fehler.grund}")
            abfrage = None
    ueberfaellig = eintrag.ganzzahl("ueberfaellig_nach_tagen", 1, UEBERFAELLIG_HOECHSTENS)
    return eintrag, ThemenfeldEintrag(
        slug=slug,
        name=name,
        aliase=aliase,
        raum=raum,
        abfrage=abfrage,
        ueberfaellig_nach_tagen=UEBERFAELLIG_VORGABE if ueberfaellig is None else ueberfaellig,
    )


def _lies_person(eintrag: _Eintrag) -> tuple[_Eintrag, PersonEintrag]:
    matrix_id = eintrag.text("matrix_id", pflicht=True, hoechstens=255) or ""
    if matrix_id and not ist_matrix_id(matrix_id):
        eintrag.problem(f"„{matrix_id}“ ist keine gültige Matrix-ID (Form @name:server)")
        matrix_id = ""
    return eintrag, PersonEintrag(
        matrix_id=matrix_id,
        name=eintrag.text("name", pflicht=True) or "",
        patin=eintrag.textliste("patin"),
        koordination=eintrag.textliste("koordination"),
        stabsstelle=eintrag.ja_nein("stabsstelle"),
    )


def _lies_projekt(eintrag: _Eintrag) -> tuple[_Eintrag, ProjektEintrag]:
    slug = eintrag.slug("slug")
    themenfeld = eintrag.text("themenfeld", pflicht=True, hoechstens=64) or ""
    titel = eintrag.text("titel", pflicht=True, hoechstens=300) or ""
    beschreibung = (
        eintrag.text("beschreibung", hoechstens=10_000, leer_ok=True, mehrzeilig=True) or ""
    )
    aliase = eintrag.textliste("aliase")
    wirkung = eintrag.zahl("wirkungspotenzial")
    start = eintrag.datum("start")
    ende = eintrag.datum("ende")
    if start is not None and ende is not None and ende < start:
        eintrag.problem(f"Ende {ende:%d.%m.%Y} liegt vor dem Start {start:%d.%m.%Y}")
    ampel: Ampel | None = None
    ampel_text = eintrag.text("ampel", hoechstens=32)
    if ampel_text is not None:
        ampel = Ampel.aus_eingabe(ampel_text)
        if ampel is None:
            erlaubt = ", ".join(a.wort for a in Ampel)
            eintrag.problem(f"Ampel „{ampel_text}“ unbekannt (erlaubt: {erlaubt})")
    fortschritt = eintrag.ganzzahl("fortschritt", 0, 100)
    if "fortschritt" in eintrag.daten and "ampel" not in eintrag.daten:
        eintrag.problem("„fortschritt“ geht nur zusammen mit „ampel“")
    return eintrag, ProjektEintrag(
        slug=slug,
        themenfeld=themenfeld,
        titel=titel,
        beschreibung=beschreibung,
        aliase=aliase,
        wirkungspotenzial=wirkung,
        start=start,
        ende=ende,
        ampel=ampel,
        fortschritt=fortschritt,
    )


def _pruefe_themenfelder(felder: Sequence[tuple[_Eintrag, ThemenfeldEintrag]]) -> None:
    # Slugs und Aliase bilden einen Namensraum: „!status strom“ muss eindeutig sein.
    _pruefe_namen([(e, f.slug, f.aliase) for e, f in felder], "Themenfeld")
    raeume: dict[str, str] = {}
    for eintrag, feld in felder:
        if feld.raum is None:
            continue
        if feld.raum in raeume:
            eintrag.problem(f"Raum „{feld.raum}“ gehört schon zu Themenfeld „{raeume[feld.raum]}“")
        else:
            raeume[feld.raum] = feld.slug


def _pruefe_namen(eintraege: Sequence[tuple[_Eintrag, str, tuple[str, ...]]], art: str) -> None:
    """Slugs und Aliase einer Art dürfen sich, normalisiert verglichen, nicht überschneiden."""
    slugs: dict[str, int] = {}
    for nummer, (eintrag, slug, _aliase) in enumerate(eintraege, 1):
        if not slug:
            continue
        if slug in slugs:
            eintrag.problem(f"Slug „{slug}“ kommt doppelt vor (schon {art} Nr. {slugs[slug]})")
        else:
            slugs[slug] = nummer
    vergeben: dict[str, str] = {normalisiere(slug): f"Slug von {art} „{slug}“" for slug in slugs}
    for eintrag, slug, aliase in eintraege:
        for alias in aliase:
            schluessel = normalisiere(alias)
            if schluessel in vergeben:
                eintrag.problem(f"Alias „{alias}“ ist schon {vergeben[schluessel]}")
            else:
                vergeben[schluessel] = f"Alias von {art} „{slug}“"


def _pruefe_personen(
    felder: Sequence[tuple[_Eintrag, ThemenfeldEintrag]],
    personen: Sequence[tuple[_Eintrag, PersonEintrag]],
) -> None:
    feld_slugs = [f.slug for _, f in felder if f.slug]
    gesehen: set[str] = set()
    patinnen: dict[str, list[str]] = {slug: [] for slug in feld_slugs}
    for eintrag, person in personen:
        if person.matrix_id:
            if person.matrix_id in gesehen:
                eintrag.problem(f"„{person.matrix_id}“ steht doppelt in der Datei")
            gesehen.add(person.matrix_id)
        for schluessel, slugs in (("patin", person.patin), ("koordination", person.koordination)):
            for slug in slugs:
                if slug not in patinnen:
                    eintrag.problem(
                        f"Themenfeld „{slug}“ (in „{schluessel}“) gibt es nicht"
                        f"{_feldvorschlag(slug, felder)}"
                    )
                elif schluessel == "patin":
                    patinnen[slug].append(person.matrix_id or eintrag.bezeichnung)
    for eintrag, feld in felder:
        if not feld.slug or feld.slug not in patinnen:
            continue
        namen = patinnen.pop(feld.slug)
        if not namen:
            eintrag.problem(
                f'keine Themenpat*in (genau eine Person braucht patin = ["{feld.slug}"])'
            )
        elif len(namen) > 1:
            eintrag.problem(f"mehrere Themenpat*innen ({', '.join(namen)}); erlaubt ist genau eine")


def _pruefe_projekte(
    felder: Sequence[tuple[_Eintrag, ThemenfeldEintrag]],
    projekte: Sequence[tuple[_Eintrag, ProjektEintrag]],
) -> None:
    _pruefe_namen([(e, p.slug, p.aliase) for e, p in projekte], "Projekt")
    feld_slugs = {f.slug for _, f in felder if f.slug}
    for eintrag, projekt in projekte:
        if projekt.themenfeld and projekt.themenfeld not in feld_slugs:
            eintrag.problem(
                f"Themenfeld „{projekt.themenfeld}“ gibt es nicht"
                f"{_feldvorschlag(projekt.themenfeld, felder)}"
            )


def _feldvorschlag(angabe: str, felder: Sequence[tuple[_Eintrag, ThemenfeldEintrag]]) -> str:
    gesucht = normalisiere(angabe)
    for _, feld in felder:
        if feld.slug and gesucht in {normalisiere(a) for a in (feld.slug, *feld.aliase)}:
            return f" (gemeint ist wohl „{feld.slug}“: bitte den Slug angeben)"
    return _vorschlag(angabe, [f.slug for _, f in felder if f.slug])


def _vorschlag(wort: str, kandidaten: Iterable[str]) -> str:
    aehnlich = difflib.get_close_matches(wort, list(kandidaten), n=1, cutoff=0.6)
    return f" (meinten Sie „{aehnlich[0]}“?)" if aehnlich else ""


def _zeige(wert: object) -> str:
    if isinstance(wert, str):
        return f"„{wert}“"
    try:
        return _toml_wert(wert)
    except TypeError:
        return "eine Tabelle"


# --- Import -----------------------------------------------------------------------------------


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
        stand=await _aktueller_stand(sitzung),
    )


async def _aktueller_stand(sitzung: AsyncSession) -> dict[int, tuple[Ampel, int | None]]:
    """Ampel und Fortschritt der neuesten gültigen Meldung je Projekt, in einer Abfrage.

    Nur Projekte mit gültiger Meldung; archivierte auch, denn sie können wieder aufleben.
    """
    zeilen = await sitzung.execute(
        select(Strategieprojekt.id, Statusmeldung.ampel, Statusmeldung.fortschritt).join(
            Statusmeldung, Statusmeldung.id == neueste_meldung(Statusmeldung.id)
        )
    )
    return {projekt_id: (Ampel(ampel), fortschritt) for projekt_id, ampel, fortschritt in zeilen}


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


async def importiere_struktur(sitzung: AsyncSession, struktur: Struktur, wer: str) -> Importbericht:
    """Gleicht die Datenbank mit `struktur` ab, in der Transaktion des Aufrufers.

    Angelegt und geändert wird nach Slug bzw. Matrix-ID; was in der Datei fehlt, wird
    archiviert (Themenfelder, Projekte) bzw. verliert seine Rollen (Personen), gelöscht
    wird nichts davon. `wer` steht im Änderungsprotokoll. Ein `StrukturFehler` kommt,
    bevor etwas geschrieben ist. Die Zahl der Abfragen hängt nicht von der Größe ab.
    """
    bestand = await _lade_bestand(sitzung)
    _pruefe_gegen_bestand(struktur, bestand)
    protokoll = _Protokoll(wer, jetzt())

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
    je_feld: dict[str, list[ProjektEintrag]] = {}
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


# --- Export -----------------------------------------------------------------------------------


async def exportiere_struktur(sitzung: AsyncSession) -> str:
    """Die aktive Struktur als Strukturdatei, mit dem aktuellen Stand jedes Projekts."""
    felder = (
        await sitzung.scalars(
            select(Themenfeld)
            .where(Themenfeld.archiviert.is_(False))
            .order_by(Themenfeld.reihenfolge, Themenfeld.id)
        )
    ).all()
    position = {f.id: i for i, f in enumerate(felder)}
    slug_von = {f.id: f.slug for f in felder}
    raeume = {
        r.themenfeld_id: r.adresse
        for r in await sitzung.scalars(select(Raum).where(Raum.themenfeld_id.is_not(None)))
    }
    rollen = (
        await sitzung.execute(
            select(
                Person.id,
                Person.matrix_id,
                Person.anzeigename,
                Rollenzuweisung.rolle,
                Rollenzuweisung.themenfeld_id,
            )
            .join(Rollenzuweisung, Rollenzuweisung.person_id == Person.id)
            .order_by(Person.id)
        )
    ).all()
    projekte = (
        await sitzung.scalars(
            select(Strategieprojekt)
            .where(Strategieprojekt.archiviert.is_(False))
            .order_by(Strategieprojekt.reihenfolge, Strategieprojekt.id)
        )
    ).all()
    stand = await _aktueller_stand(sitzung)

    teile = [_KOPF_EXPORT]
    for feld in felder:
        teile.append(
            _toml_tabelle(
                "themenfeld",
                {
                    "slug": feld.slug,
                    "name": feld.name,
                    "aliase": feld.aliase,
                    "raum": raeume.get(feld.id),
                    "abfrage": feld.abfrage,
                    "ueberfaellig_nach_tagen": feld.ueberfaellig_nach_tagen,
                },
            )
        )

    personen: dict[int, dict[str, Any]] = {}
    for person_id, matrix_id, name, rolle, feld_id in rollen:
        # Rollen in archivierten Feldern lassen sich in der Datei nicht ausdrücken.
        if feld_id is not None and feld_id not in position:
            continue
        eintrag = personen.setdefault(
            person_id,
            {
                "matrix_id": matrix_id,
                "name": name,
                "patin": [],
                "koordination": [],
                "stabsstelle": False,
            },
        )
        if rolle == Rolle.STABSSTELLE:
            eintrag["stabsstelle"] = True
        else:
            eintrag[Rolle(rolle).value].append(feld_id)
    for eintrag in personen.values():
        for schluessel in ("patin", "koordination"):
            eintrag[schluessel] = [
                slug_von[i] for i in sorted(eintrag[schluessel], key=position.__getitem__)
            ]
        teile.append(_toml_tabelle("person", eintrag))

    for projekt in sorted(
        (p for p in projekte if p.themenfeld_id in position),
        key=lambda p: (position[p.themenfeld_id], p.reihenfolge, p.id),
    ):
        ampel, fortschritt = stand.get(projekt.id, (None, None))
        teile.append(
            _toml_tabelle(
                "projekt",
                {
                    "slug": projekt.slug,
                    "themenfeld": slug_von[projekt.themenfeld_id],
                    "titel": projekt.titel,
                    "beschreibung": projekt.beschreibung,
                    "aliase": projekt.aliase,
                    "wirkungspotenzial": projekt.wirkungspotenzial,
                    "start": projekt.start,
                    "ende": projekt.geplantes_ende,
                    "ampel": None if ampel is None else ampel.wort,
                    "fortschritt": fortschritt,
                },
            )
        )
    return "\n".join(teile)


def _toml_tabelle(name: str, werte: Mapping[str, Any]) -> str:
    """Ein [[name]]-Eintrag; fehlende Angaben (None, leer, false) werden weggelassen."""
    zeilen = [f"[[{name}]]"]
    for schluessel, wert in werte.items():
        if wert is None or wert is False or (isinstance(wert, str | list | tuple) and not wert):
            continue
        zeilen.append(f"{schluessel} = {_toml_wert(wert)}")
    return "\n".join(zeilen) + "\n"


def _toml_wert(wert: object) -> str:
    # Listen einzeilig, wie man sie von Hand schreibt; Einzelwerte schreibt tomli_w.
    if isinstance(wert, list | tuple):
        return "[" + ", ".join(_toml_wert(w) for w in wert) + "]"
    return tomli_w.dumps({"w": wert}).removeprefix("w = ").removesuffix("\n")


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
