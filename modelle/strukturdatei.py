"""Die Strukturdatei: Themenfelder, Personen und Strategieprojekte als TOML.

Das Format der Datei, die die Stabsstelle unter Versionskontrolle pflegt: ihre Angaben als
Datenklassen, Lesen und Prüfen (alle Probleme auf einmal, auf Deutsch, als `StrukturFehler`).
In die Datenbank bringt sie `modelle.strukturimport`, aus ihr `modelle.strukturexport`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from modelle.werte import (
    Ampel,
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


# --- Beschreibung der Struktur -------------------------------------------------------------


@dataclass(frozen=True)
class ThemenfeldAngabe:
    slug: str
    name: str
    aliase: tuple[str, ...] = ()
    raum: str | None = None
    # Kanonische Schreibweise eines `Zeitplan`s; None = Vorgabe aus der Konfiguration.
    abfrage: str | None = None
    ueberfaellig_nach_tagen: int = UEBERFAELLIG_VORGABE


@dataclass(frozen=True)
class PersonAngabe:
    matrix_id: str
    name: str
    patin: tuple[str, ...] = ()
    koordination: tuple[str, ...] = ()
    stabsstelle: bool = False


@dataclass(frozen=True)
class ProjektAngabe:
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

    themenfelder: tuple[ThemenfeldAngabe, ...]
    personen: tuple[PersonAngabe, ...]
    projekte: tuple[ProjektAngabe, ...]
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


def _lies_themenfeld(eintrag: _Eintrag) -> tuple[_Eintrag, ThemenfeldAngabe]:
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
    return eintrag, ThemenfeldAngabe(
        slug=slug,
        name=name,
        aliase=aliase,
        raum=raum,
        abfrage=abfrage,
        ueberfaellig_nach_tagen=UEBERFAELLIG_VORGABE if ueberfaellig is None else ueberfaellig,
    )


def _lies_person(eintrag: _Eintrag) -> tuple[_Eintrag, PersonAngabe]:
    matrix_id = eintrag.text("matrix_id", pflicht=True, hoechstens=255) or ""
    if matrix_id and not ist_matrix_id(matrix_id):
        eintrag.problem(f"„{matrix_id}“ ist keine gültige Matrix-ID (Form @name:server)")
        matrix_id = ""
    return eintrag, PersonAngabe(
        matrix_id=matrix_id,
        name=eintrag.text("name", pflicht=True) or "",
        patin=eintrag.textliste("patin"),
        koordination=eintrag.textliste("koordination"),
        stabsstelle=eintrag.ja_nein("stabsstelle"),
    )


def _lies_projekt(eintrag: _Eintrag) -> tuple[_Eintrag, ProjektAngabe]:
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
    return eintrag, ProjektAngabe(
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


def _pruefe_themenfelder(felder: Sequence[tuple[_Eintrag, ThemenfeldAngabe]]) -> None:
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
    felder: Sequence[tuple[_Eintrag, ThemenfeldAngabe]],
    personen: Sequence[tuple[_Eintrag, PersonAngabe]],
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
    felder: Sequence[tuple[_Eintrag, ThemenfeldAngabe]],
    projekte: Sequence[tuple[_Eintrag, ProjektAngabe]],
) -> None:
    _pruefe_namen([(e, p.slug, p.aliase) for e, p in projekte], "Projekt")
    feld_slugs = {f.slug for _, f in felder if f.slug}
    for eintrag, projekt in projekte:
        if projekt.themenfeld and projekt.themenfeld not in feld_slugs:
            eintrag.problem(
                f"Themenfeld „{projekt.themenfeld}“ gibt es nicht"
                f"{_feldvorschlag(projekt.themenfeld, felder)}"
            )


def _feldvorschlag(angabe: str, felder: Sequence[tuple[_Eintrag, ThemenfeldAngabe]]) -> str:
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
        return toml_wert(wert)
    except TypeError:
        return "eine Tabelle"


def toml_wert(wert: object) -> str:
    """`wert`, wie er in der Strukturdatei steht: Listen einzeilig, wie man sie von Hand
    schreibt; Einzelwerte so, wie tomli_w sie schreibt."""
    if isinstance(wert, list | tuple):
        return "[" + ", ".join(toml_wert(w) for w in wert) + "]"
    return tomli_w.dumps({"w": wert}).removeprefix("w = ").removesuffix("\n")
