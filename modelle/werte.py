"""Die festen Wertebereiche der Domäne: Ampel, Rollen, Quellen einer Statusmeldung."""

from __future__ import annotations

import enum
import re
import unicodedata


class Ampel(enum.StrEnum):
    """Stand eines Strategieprojekts. Gespeichert wird der ASCII-Wert."""

    GRUEN = "gruen"
    GELB = "gelb"
    ROT = "rot"
    ABGESCHLOSSEN = "abgeschlossen"

    @property
    def wort(self) -> str:
        return _WORT[self]

    @property
    def emoji(self) -> str:
        return _EMOJI[self]

    @classmethod
    def aus_eingabe(cls, text: str) -> Ampel | None:
        """Liest, was Menschen schreiben: `grün`, `Gruen`, `🟢`, `✅`, `fertig` …"""
        schluessel = normalisiere(text)
        return _EINGABEN.get(schluessel)


_WORT = {
    Ampel.GRUEN: "grün",
    Ampel.GELB: "gelb",
    Ampel.ROT: "rot",
    Ampel.ABGESCHLOSSEN: "abgeschlossen",
}
_EMOJI = {
    Ampel.GRUEN: "🟢",
    Ampel.GELB: "🟡",
    Ampel.ROT: "🔴",
    Ampel.ABGESCHLOSSEN: "✅",
}


class Rolle(enum.StrEnum):
    PATIN = "patin"
    KOORDINATION = "koordination"
    STABSSTELLE = "stabsstelle"

    @property
    def bezeichnung(self) -> str:
        return _ROLLEN_BEZEICHNUNG[self]


_ROLLEN_BEZEICHNUNG = {
    Rolle.PATIN: "Themenpat*in",
    Rolle.KOORDINATION: "Klimakoordinator*in",
    Rolle.STABSSTELLE: "Stabsstelle Klima",
}


class Quelle(enum.StrEnum):
    """Woher eine Statusmeldung kam."""

    BEFEHL = "befehl"
    ANTWORT = "antwort"
    REAKTION = "reaktion"
    IMPORT = "import"


def normalisiere(text: str) -> str:
    """Schreibweise für Vergleiche: klein, Umlaute ausgeschrieben, ohne Leerraum am Rand.

    `Mobilität`, `mobilitaet` und `MOBILITAET` ergeben denselben Schlüssel. Unsichtbare
    Formatzeichen (Nullbreite, weiches Trennzeichen, Richtungssteuerung) zählen nicht: sonst
    wäre `gelb` mit einem eingefügten Nullbreitenzeichen „keine Ampel“, ohne dass man es sieht.
    """
    text = "".join(z for z in text if unicodedata.category(z) != "Cf")
    text = unicodedata.normalize("NFC", text).strip().casefold()
    for umlaut, ersatz in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(umlaut, ersatz)
    return text


# Steuerzeichen (Unicode-Kategorie Cc: C0, DEL, C1) außer Tab und Zeilenumbruch.
_STEUERZEICHEN = dict.fromkeys(
    z for z in (*range(0x20), *range(0x7F, 0xA0)) if chr(z) not in "\t\n"
)


def ohne_steuerzeichen(text: str) -> str:
    """Text zum Speichern: ohne Steuerzeichen außer Zeilenumbruch und Tab; CR LF wird LF.

    Ein Nullzeichen speichert PostgreSQL in keiner Textspalte, ein ESC steuert das Terminal,
    in dem jemand `klimabot bericht` liest, und keines davon bedeutet in einer Meldung etwas.
    Unsichtbare Formatzeichen (Kategorie Cf, etwa Richtungssteuerung) bleiben: Sie gehören zu
    manchem Text; wo sie stören, isoliert die Darstellung sie.
    """
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_STEUERZEICHEN)


def erstes_steuerzeichen(text: str, *, mehrzeilig: bool = False) -> str | None:
    """Das erste Steuerzeichen im Text; `mehrzeilig` erlaubt Zeilenumbrüche (auch CR) und Tab."""
    erlaubt = "\t\n\r" if mehrzeilig else ""
    return next((z for z in text if unicodedata.category(z) == "Cc" and z not in erlaubt), None)


_EINGABEN: dict[str, Ampel] = {
    **{normalisiere(a.value): a for a in Ampel},
    **{normalisiere(a.wort): a for a in Ampel},
    **{a.emoji: a for a in Ampel},
    "green": Ampel.GRUEN,
    "yellow": Ampel.GELB,
    "red": Ampel.ROT,
    "fertig": Ampel.ABGESCHLOSSEN,
    "erledigt": Ampel.ABGESCHLOSSEN,
    "☑️": Ampel.ABGESCHLOSSEN,
    "✔️": Ampel.ABGESCHLOSSEN,
    "🟩": Ampel.GRUEN,
    "🟨": Ampel.GELB,
    "🟥": Ampel.ROT,
}


# Matrix-Bezeichner nach der heutigen Grammatik der Spezifikation: Nutzer-IDs in
# Kleinbuchstaben, Ziffern und ._=-/+ vor dem Server.
_SERVERNAME = r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
_MATRIX_ID = re.compile(rf"@[a-z0-9._=\-/+]+:{_SERVERNAME}")
# Raum-IDs ab Raumversion 12 tragen keinen Servernamen mehr.
_RAUMADRESSE = re.compile(rf"#[^:\s]+:{_SERVERNAME}|![A-Za-z0-9._~=\-/+]+(?::{_SERVERNAME})?")


def ist_matrix_id(text: str) -> bool:
    return len(text) <= 255 and _MATRIX_ID.fullmatch(text) is not None


def ist_raumadresse(text: str) -> bool:
    return len(text) <= 255 and _RAUMADRESSE.fullmatch(text) is not None


def ist_servername(text: str) -> bool:
    return re.fullmatch(_SERVERNAME, text) is not None
