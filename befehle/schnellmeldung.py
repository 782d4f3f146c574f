"""Meldungen ohne Befehl: Antwort auf eine Projektzeile, Reaktion, Bearbeiten, Löschen.

`bot/` erkennt am Matrix-Ereignis, was gemeint ist, und ruft die passende Funktion; hier
steht, was das für die Meldungen bedeutet. `None` heißt: das war keine Meldung (etwa ein
„Danke!“ als Antwort), der Bot schweigt.
"""

from __future__ import annotations

from collections.abc import Sequence

from befehle import meldung as meldebefehl
from befehle.berechtigung import pruefe_meldung
from befehle.darstellung import Code, Nachricht, gekuerzt
from befehle.format import ampel as ampeltext
from befehle.grundlagen import Anfrage, Antwort, Benutzerfehler
from befehle.meldungstext import Meldungsinhalt, lies_meldungsinhalt
from befehle.suche import finde_projekt, finde_projekt_unter
from modelle.abfragen import projektstand
from modelle.meldungen import meldung_zum_ereignis, ziehe_zurueck
from modelle.verzeichnis import ProjektEintrag
from modelle.werte import Ampel, Quelle


def _genannte(anfrage: Anfrage, slugs: Sequence[str]) -> list[ProjektEintrag]:
    return [p for p in anfrage.verzeichnis.projekte if p.slug in slugs]


def _beginnt_mit_ampel(text: str) -> bool:
    erstes = text.strip().split(maxsplit=1)[0] if text.strip() else ""
    return Ampel.aus_eingabe(erstes.strip(",;:.")) is not None


def _projekt_und_rest(
    anfrage: Anfrage, kandidaten: list[ProjektEintrag], text: str
) -> tuple[ProjektEintrag, str] | Antwort | None:
    """Bei einem Projekt gilt der ganze Text ihm; bei mehreren muss es vorweg genannt sein."""
    if len(kandidaten) == 1 and _beginnt_mit_ampel(text):
        return kandidaten[0], text
    erstes, _, rest = text.strip().partition(" ")
    if len(kandidaten) > 1 and _beginnt_mit_ampel(erstes):
        beispiel = f"{kandidaten[0].slug} {gekuerzt(text.strip())}"
        return Antwort(
            Nachricht().absatz(
                [
                    "Diese Nachricht nennt mehrere Projekte. Bitte beginnen Sie mit dem "
                    "Projektnamen, z. B. ",
                    Code(beispiel),
                ]
            )
        )
    try:
        fund = finde_projekt_unter(kandidaten, erstes, anfrage.praefix)
    except Benutzerfehler:
        return None
    if not _beginnt_mit_ampel(rest):
        return None
    return fund.eintrag, rest


async def melde_per_antwort(anfrage: Anfrage, projekte: Sequence[str], text: str) -> Antwort | None:
    """`gelb, 40 %, Ausschreibung verzögert sich` als Antwort auf eine Projektnachricht."""
    ergebnis = _projekt_und_rest(anfrage, _genannte(anfrage, projekte), text)
    if not isinstance(ergebnis, tuple):
        return ergebnis
    projekt, rest = ergebnis
    return await meldebefehl.speichere(anfrage, projekt, lies_meldungsinhalt(rest), Quelle.ANTWORT)


async def melde_per_reaktion(
    anfrage: Anfrage, projekte: Sequence[str], schluessel: str
) -> Antwort | None:
    """Ein Tipp auf 🟢 🟡 🔴 ✅ an der Nachricht eines Projekts: nur die Ampel."""
    ampel = Ampel.aus_eingabe(schluessel)
    kandidaten = _genannte(anfrage, projekte)
    if ampel is None or len(kandidaten) != 1:
        return None
    projekt = kandidaten[0]
    bisher = await projektstand(anfrage.sitzung, projekt.id)
    unveraendert = bisher is not None and bisher.ampel is ampel
    inhalt = Meldungsinhalt(
        ampel=ampel,
        fortschritt=bisher.fortschritt if bisher else None,
        text="unverändert" if unveraendert else "",
        herausforderungen=bisher.herausforderungen if bisher and unveraendert else None,
    )
    await meldebefehl.speichere(anfrage, projekt, inhalt, Quelle.REAKTION)
    zusatz = " (unverändert)" if unveraendert else ""
    return Antwort(Nachricht().absatz(f"{projekt.titel}: {ampeltext(ampel)} gespeichert{zusatz}."))


async def bearbeite(anfrage: Anfrage, original_event_id: str, neuer_text: str) -> Antwort | None:
    """Die Person hat ihre Meldungsnachricht bearbeitet: die gespeicherte Meldung folgt.

    `None`, wenn zu dem Ereignis keine (gültige) Meldung dieser Person gehört.
    """
    gefunden = await meldung_zum_ereignis(anfrage.sitzung, original_event_id)
    if gefunden is None:
        return None
    gespeichert, autor = gefunden
    if autor != anfrage.absender or gespeichert.zurueckgezogen:
        return None
    if gespeichert.quelle == Quelle.BEFEHL:
        _name, _, argumente = neuer_text.strip().removeprefix(anfrage.praefix).partition(" ")
        neu = meldebefehl.lies_argumente(argumente)
        projekt = finde_projekt(anfrage.verzeichnis, neu.projekt, anfrage.praefix).eintrag
        feld = anfrage.verzeichnis.feld(projekt.themenfeld_id)
        assert feld is not None  # das Verzeichnis kennt nur Projekte aktiver Felder
        pruefe_meldung(anfrage.verzeichnis, anfrage.absender, feld)
        projekt_id, inhalt = projekt.id, neu.inhalt
    else:
        projekt_id, inhalt = gespeichert.projekt_id, lies_meldungsinhalt(neuer_text)
    gespeichert.projekt_id = projekt_id
    gespeichert.ampel = inhalt.ampel
    gespeichert.fortschritt = inhalt.fortschritt
    gespeichert.text = inhalt.text
    gespeichert.herausforderungen = inhalt.herausforderungen
    gespeichert.bearbeitet_am = anfrage.jetzt
    return Antwort(
        Nachricht().absatz(
            f"Meldung aktualisiert: {ampeltext(inhalt.ampel)}"
            + (f", {inhalt.fortschritt} %" if inhalt.fortschritt is not None else "")
            + "."
        )
    )


async def zurueckziehen(anfrage: Anfrage, event_id: str) -> Antwort | None:
    """Die Nachricht oder Reaktion einer Meldung wurde gelöscht: die Meldung zählt nicht mehr."""
    meldung = await ziehe_zurueck(anfrage.sitzung, event_id, anfrage.jetzt)
    if meldung is None:
        return None
    projekt = next((p for p in anfrage.verzeichnis.projekte if p.id == meldung.projekt_id), None)
    titel = f" zu „{projekt.titel}“" if projekt else ""
    return Antwort(Nachricht().absatz(f"Die Meldung{titel} ist zurückgezogen."))
