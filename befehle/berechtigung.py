"""Wer was darf – an genau dieser einen Stelle.

Grundlage ist die Struktur (Themenpat*in, Klimakoordinator*innen, Stabsstelle), nicht die
Power-Levels des Raums: Wer im Raum löschen darf (Moderation), zieht damit keine fremde
Meldung zurück. Lesen dürfen alle in den Räumen des Bots.
"""

from __future__ import annotations

from befehle.grundlagen import Berechtigung, Verweigert
from befehle.nachricht import Nachricht
from modelle.verzeichnis import FeldEintrag, Verzeichnis
from modelle.werte import Rolle


def gehoert_zur_struktur(verzeichnis: Verzeichnis, matrix_id: str) -> bool:
    """Hat die Person eine Rolle (Pat*in, Koordination, Stabsstelle) in der aktiven Struktur?

    Wer aus der Strukturdatei verschwindet, bleibt als Person gespeichert (ihre Meldungen
    bleiben ihr zugeordnet), gehört aber nicht mehr dazu.
    """
    return bool(verzeichnis.rollen_von(matrix_id))


def personen_der_struktur(verzeichnis: Verzeichnis) -> frozenset[str]:
    """Alle, die zur Struktur gehören: nur ihre Geräte bekommen die Raumschlüssel des Bots."""
    return frozenset(matrix_id for matrix_id, _, _ in verzeichnis.rollen)


def handelt_im_raum(
    verzeichnis: Verzeichnis, raum_id: str, absender: str, direktraum_mit: str | None
) -> bool:
    """Wo der Bot antwortet und etwas annimmt: in den Räumen der Struktur, und im Direktraum
    einer Person der Struktur – dort nur für diese Person. Anderswo zeigt er nichts."""
    if verzeichnis.ist_strukturraum(raum_id):
        return True
    return (
        direktraum_mit is not None
        and direktraum_mit == absender
        and gehoert_zur_struktur(verzeichnis, absender)
    )


def ist_stabsstelle(verzeichnis: Verzeichnis, matrix_id: str) -> bool:
    return any(r is Rolle.STABSSTELLE for r, _ in verzeichnis.rollen_von(matrix_id))


def darf_melden(verzeichnis: Verzeichnis, matrix_id: str, feld_id: int) -> bool:
    """Pat*in und Koordinator*innen des Felds sowie die Stabsstelle dürfen melden."""
    return any(r is Rolle.STABSSTELLE or f == feld_id for r, f in verzeichnis.rollen_von(matrix_id))


def darf_zurueckziehen(verzeichnis: Verzeichnis, matrix_id: str, autor: str | None) -> bool:
    """Eine Meldung zurückziehen (ihre Nachricht oder Reaktion löschen) dürfen ihre Autor*in
    und die Stabsstelle – nicht, wer im Raum bloß löschen darf."""
    return (autor is not None and matrix_id == autor) or ist_stabsstelle(verzeichnis, matrix_id)


def meldefelder(verzeichnis: Verzeichnis, matrix_id: str) -> list[FeldEintrag]:
    """Die aktiven Themenfelder, für die die Person melden darf."""
    return [f for f in verzeichnis.felder if darf_melden(verzeichnis, matrix_id, f.id)]


def darf(verzeichnis: Verzeichnis, matrix_id: str, berechtigung: Berechtigung) -> bool:
    """Darf die Person einen Befehl dieser Stufe überhaupt benutzen?"""
    match berechtigung:
        case Berechtigung.ALLE:
            return True
        case Berechtigung.MELDENDE:
            return bool(verzeichnis.rollen_von(matrix_id))
        case Berechtigung.STABSSTELLE:
            return ist_stabsstelle(verzeichnis, matrix_id)


def wer_darf(berechtigung: Berechtigung) -> str:
    """Wer Befehle dieser Stufe benutzen darf; passt hinter „Wer darf:“ und „nur für“."""
    match berechtigung:
        case Berechtigung.ALLE:
            return "alle"
        case Berechtigung.MELDENDE:
            return (
                "Themenpat*innen und Klimakoordinator*innen (für ihre Themenfelder) "
                "sowie die Stabsstelle Klima (für alle Themenfelder)"
            )
        case Berechtigung.STABSSTELLE:
            return "die Stabsstelle Klima"


def pruefe_befehl(verzeichnis: Verzeichnis, matrix_id: str, berechtigung: Berechtigung) -> None:
    if darf(verzeichnis, matrix_id, berechtigung):
        return
    if berechtigung is Berechtigung.STABSSTELLE:
        raise Verweigert("Das darf nur die Stabsstelle Klima. Bitte wenden Sie sich an sie.")
    raise Verweigert(
        "Meldungen geben die Themenpat*innen, die Klimakoordinator*innen und die Stabsstelle "
        "Klima ab. Sie sind in der Struktur keinem Themenfeld zugeordnet – bei Fragen hilft "
        "die Stabsstelle."
    )


def pruefe_meldung(verzeichnis: Verzeichnis, matrix_id: str, feld: FeldEintrag) -> None:
    """Wirft `Verweigert` mit den Namen derer, die für dieses Feld melden dürfen."""
    if darf_melden(verzeichnis, matrix_id, feld.id):
        return
    patin = verzeichnis.personen_mit(Rolle.PATIN, feld.id)
    koordination = verzeichnis.personen_mit(Rolle.KOORDINATION, feld.id)
    wer = []
    if patin:
        wer.append(f"die Themenpat*in ({', '.join(p.anzeigename for p in patin)})")
    if koordination:
        namen = ", ".join(p.anzeigename for p in koordination)
        wer.append(f"die Klimakoordinator*innen ({namen})")
    wer.append("die Stabsstelle Klima")
    aufzaehlung = ", ".join(wer[:-1]) + " und " + wer[-1] if len(wer) > 1 else wer[0]
    raise Verweigert(
        Nachricht().absatz(
            f"Entschuldigung, Meldungen für das Themenfeld „{feld.name}“ geben {aufzaehlung} ab."
        )
    )
