"""Den Text einer Statusmeldung lesen: `gelb, 40 %, Ausschreibung verzögert sich`.

Gleich für `!meldung` (nach dem Projektnamen) und für Antworten auf Projektzeilen; hier steht
auch, woran man einen solchen Text erkennt (`sieht_wie_meldung_aus`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from befehle.grundlagen import Argumentfehler
from befehle.nachricht import gekuerzt
from modelle.werte import Ampel, ohne_steuerzeichen

MAX_TEXT = 4000

_FORTSCHRITT = re.compile(r"(\d{1,4})\s*(?:%|prozent\b)[\s,;.]*", re.IGNORECASE)
_HERAUSFORDERUNG = re.compile(r"\bherausforderung(?:en)?\s*:", re.IGNORECASE)
_TRENNER = " \t\n,;:–-"
# Was vor der Ampel nichts bedeutet: „!meldung waermeplanung , gelb“ meint `gelb`.
_VORSPANN = re.compile(r"\A[\s,;:–-]+")
AMPEL_HINWEIS = "Erlaubt sind grün, gelb, rot und abgeschlossen (auch 🟢 🟡 🔴 ✅)."


@dataclass(frozen=True, slots=True)
class Meldungsinhalt:
    ampel: Ampel
    fortschritt: int | None
    text: str
    herausforderungen: str | None


def lies_ampel(wort: str) -> Ampel:
    ampel = Ampel.aus_eingabe(wort.strip(_TRENNER + "."))
    if ampel is None:
        raise Argumentfehler(f"„{gekuerzt(wort)}“ ist keine Ampel. {AMPEL_HINWEIS}")
    return ampel


def beginnt_mit_ampel(text: str) -> bool:
    """Ist das erste Wort eine Ampel (`gelb, 40 %, …`)? So beginnt der Inhalt jeder Meldung."""
    erstes = text.split(maxsplit=1)[0] if text.strip() else ""
    return Ampel.aus_eingabe(erstes.strip(",;:.")) is not None


def sieht_wie_meldung_aus(text: str) -> bool:
    """Steht vorn eine Ampel – gleich oder nach einem Wort, dem Projektnamen
    (`waermeplanung gelb, 40 %`)? Sonst liest der Bot eine Antwort nicht als Meldung."""
    return beginnt_mit_ampel(text) or beginnt_mit_ampel(erstes_wort_und_rest(text)[1])


def erstes_wort_und_rest(text: str) -> tuple[str, str]:
    """Trennt am ersten Leerzeichen: vorn vielleicht ein Projektname, dahinter der Inhalt."""
    erstes, _, rest = text.strip().partition(" ")
    return erstes, rest


def lies_meldungsinhalt(text: str) -> Meldungsinhalt:
    text = _VORSPANN.sub("", ohne_steuerzeichen(text)).rstrip()
    if not text:
        raise Argumentfehler(f"Es fehlt die Ampel. {AMPEL_HINWEIS}")
    erstes, rest = _erstes_wort(text)
    ampel = lies_ampel(erstes)
    rest = rest.lstrip(_TRENNER)
    fortschritt = None
    if treffer := _FORTSCHRITT.match(rest):
        fortschritt = int(treffer[1])
        if not 0 <= fortschritt <= 100:
            raise Argumentfehler(f"Fortschritt {fortschritt} % liegt nicht zwischen 0 und 100.")
        rest = rest[treffer.end() :].lstrip(_TRENNER)
    herausforderungen = None
    teile = _HERAUSFORDERUNG.split(rest, maxsplit=1)
    if len(teile) == 2:
        rest, herausforderungen = teile[0].rstrip(_TRENNER + "."), teile[1].strip() or None
        if herausforderungen:
            rest = rest.strip()
    rest = rest.strip()
    if len(rest) + len(herausforderungen or "") > MAX_TEXT:
        raise Argumentfehler(f"Die Meldung ist zu lang (höchstens {MAX_TEXT} Zeichen).")
    return Meldungsinhalt(ampel, fortschritt, rest, herausforderungen)


def _erstes_wort(text: str) -> tuple[str, str]:
    """Trennt das erste Wort ab; eine Ampel darf direkt an Satzzeichen hängen („gelb,“)."""
    treffer = re.match(r"([^\s,;]+)[,;]?(.*)", text, re.DOTALL)
    assert treffer is not None  # text ist nicht leer und beginnt nicht mit Leerraum, „,“ oder „;“
    return treffer[1], treffer[2]
