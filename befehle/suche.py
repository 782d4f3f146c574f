"""Themenfelder und Projekte so finden, wie Menschen sie schreiben.

Groß-/Kleinschreibung, Umlaute (`mobilitaet` = `mobilität`) und Aliase sind egal; ein
eindeutiger Anfang genügt; ein mehrdeutiger Anfang nennt die Kandidaten (bei `!status` erst,
wenn kein einzelnes Themenfeld darunter ist); ein Tippfehler bekommt „Meinten Sie …?“.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from befehle.grundlagen import Benutzerfehler
from befehle.nachricht import Code, Fett, Kursiv, Nachricht, gekuerzt
from modelle.verzeichnis import FeldEintrag, ProjektEintrag, Verzeichnis
from modelle.werte import normalisiere

T = TypeVar("T", FeldEintrag, ProjektEintrag, FeldEintrag | ProjektEintrag)


@dataclass(frozen=True, slots=True)
class Fund(Generic[T]):
    eintrag: T
    # Gesetzt, wenn nur ein Anfang gegeben war: „waerme“ als „Kommunale Wärmeplanung“ verstanden.
    gedeutet: bool = False


# Die Einträge sind unveränderlich; ihre Schlüssel je Suche neu zu bilden kostete bei jeder
# Nachricht Millisekunden (gemessen mit cProfile: der größte Posten nach der Datenbank).
@functools.lru_cache(maxsize=4096)
def _schluessel(eintrag: FeldEintrag | ProjektEintrag) -> tuple[str, ...]:
    anzeige = eintrag.name if isinstance(eintrag, FeldEintrag) else eintrag.titel
    return tuple(normalisiere(s) for s in (eintrag.slug, anzeige, *eintrag.aliase))


def verstanden(eingabe: str, eintrag: FeldEintrag | ProjektEintrag) -> Kursiv:
    """Der Hinweis unter einer Antwort auf einen gedeuteten Namen; die Eingabe gekürzt (sie kann
    beliebig lang sein und stünde sonst ganz in der Antwort)."""
    return Kursiv(f"(„{gekuerzt(eingabe)}“ als {bezeichnung(eintrag)} verstanden)")


def bezeichnung(eintrag: FeldEintrag | ProjektEintrag) -> str:
    if isinstance(eintrag, FeldEintrag):
        return f"Themenfeld „{eintrag.name}“"
    return f"Projekt „{eintrag.titel}“"


def _finde(
    eingabe: str,
    kandidaten: Sequence[T],
    was: str,
    liste_befehl: str,
    vorrang: Callable[[T], bool] | None = None,
) -> Fund[T]:
    """`vorrang`: Passen mehrere gleich gut (mehrere Namen genau oder mehrere Anfänge), gewinnt
    der eine, für den `vorrang` gilt; gilt es für keinen oder mehrere, bleibt es mehrdeutig."""
    gesucht = normalisiere(eingabe)
    # Nur Unsichtbares (Nullbreite, Richtungszeichen) ist leer – und passt auf nichts, nicht
    # als Anfang auf alles.
    exakt = [k for k in kandidaten if gesucht in _schluessel(k)] if gesucht else []
    # Genaue Namen zuerst; nur ohne sie zählen Anfänge (dann ist die Eingabe „gedeutet“).
    anfang = exakt or [
        k for k in kandidaten if gesucht and any(s.startswith(gesucht) for s in _schluessel(k))
    ]
    gedeutet = not exakt
    if len(anfang) == 1:
        return Fund(anfang[0], gedeutet=gedeutet)
    if (einer := _einer_mit_vorrang(anfang, vorrang)) is not None:
        return Fund(einer, gedeutet=gedeutet)
    if anfang:
        nachricht = Nachricht().absatz(
            f"„{gekuerzt(eingabe)}“ passt auf mehrere – bitte genauer angeben:"
        )
        nachricht.liste([[Code(k.slug), " – ", bezeichnung(k)] for k in anfang])
        raise Benutzerfehler(nachricht)
    alle = {s: k for k in kandidaten for s in _schluessel(k)}
    aehnlich = difflib.get_close_matches(gesucht, alle, n=1, cutoff=0.7)
    if aehnlich:
        raise Benutzerfehler(
            Nachricht().absatz(
                [
                    f"{was} „{gekuerzt(eingabe)}“ kenne ich nicht. Meinten Sie ",
                    Fett(alle[aehnlich[0]].slug),
                    "?",
                ]
            )
        )
    raise Benutzerfehler(
        Nachricht().absatz(
            [f"{was} „{gekuerzt(eingabe)}“ kenne ich nicht. Übersicht: ", Code(liste_befehl)]
        )
    )


def _einer_mit_vorrang(treffer: Sequence[T], vorrang: Callable[[T], bool] | None) -> T | None:
    if vorrang is None or len(treffer) < 2:
        return None
    bevorzugt = [k for k in treffer if vorrang(k)]
    return bevorzugt[0] if len(bevorzugt) == 1 else None


def finde_feld(verzeichnis: Verzeichnis, eingabe: str, praefix: str = "!") -> Fund[FeldEintrag]:
    return _finde(eingabe, verzeichnis.felder, "Das Themenfeld", f"{praefix}themen")


def finde_projekt(
    verzeichnis: Verzeichnis, eingabe: str, praefix: str = "!"
) -> Fund[ProjektEintrag]:
    return _finde(eingabe, verzeichnis.projekte, "Das Projekt", f"{praefix}projekte")


def finde_feld_oder_projekt(
    verzeichnis: Verzeichnis, eingabe: str, praefix: str = "!"
) -> Fund[FeldEintrag | ProjektEintrag]:
    """Für `!status`: Ein genauer Name gewinnt, sonst ein Themenfeld vor einem Projekt – wer
    nach einem Feld fragt (die Koordination), ist der häufige Fall; „wärme“ meint das Feld
    „Wärmewende“, nicht das Projekt `waermepumpen-schulen`. Nur wenn mehrere Felder (oder keins
    und mehrere Projekte) gleich gut passen, kommt die Liste der Kandidaten."""
    kandidaten: list[FeldEintrag | ProjektEintrag] = [*verzeichnis.felder, *verzeichnis.projekte]
    return _finde(
        eingabe,
        kandidaten,
        "Ein Themenfeld oder Projekt",
        f"{praefix}themen",
        vorrang=lambda eintrag: isinstance(eintrag, FeldEintrag),
    )


def finde_projekt_unter(
    kandidaten: Sequence[ProjektEintrag], eingabe: str, praefix: str = "!"
) -> Fund[ProjektEintrag]:
    """Wie `finde_projekt`, aber nur unter den Projekten, die eine Nachricht nennt."""
    return _finde(eingabe, kandidaten, "Das Projekt", f"{praefix}projekte")
