"""Meldungen ohne Befehl: Antwort auf eine Projektzeile, Reaktion, Bearbeiten, Löschen.

`bot/ereignis.py` erkennt am Matrix-Ereignis, was gemeint ist, `bot/verarbeitung.py` ruft die
passende Funktion; hier steht, was das für die Meldungen bedeutet. `None` heißt: das war keine
Meldung, der Bot schweigt. Erwartete Probleme werfen `Benutzerfehler`; zur Antwort werden sie
an der Fehlergrenze in `bot/verarbeitung.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from befehle import meldung as meldebefehl
from befehle.berechtigung import darf_zurueckziehen, pruefe_meldung
from befehle.grundlagen import Anfrage, Antwort, Benutzerfehler
from befehle.meldungsleser import (
    Meldungsinhalt,
    beginnt_mit_ampel,
    erstes_wort_und_rest,
    lies_meldungsinhalt,
)
from befehle.nachricht import Code, Nachricht, gekuerzt
from befehle.schreibweise import ampel as ampeltext
from befehle.suche import finde_projekt, finde_projekt_unter
from modelle.meldungen import aendere_meldung, meldung_zum_ereignis, ziehe_zurueck
from modelle.stand import projektstand
from modelle.verzeichnis import ProjektEintrag
from modelle.werte import Ampel, Quelle

log = logging.getLogger(__name__)


def _genannte(anfrage: Anfrage, slugs: Sequence[str]) -> list[ProjektEintrag]:
    return [p for p in anfrage.verzeichnis.projekte if p.slug in slugs]


def _projekt_und_rest(
    anfrage: Anfrage, kandidaten: list[ProjektEintrag], text: str
) -> tuple[ProjektEintrag, str] | Antwort | None:
    """Bei einem Projekt gilt der ganze Text ihm; bei mehreren muss es vorweg genannt sein."""
    if len(kandidaten) == 1 and beginnt_mit_ampel(text):
        return kandidaten[0], text
    erstes, rest = erstes_wort_und_rest(text)
    if len(kandidaten) > 1 and beginnt_mit_ampel(erstes):
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
    if not beginnt_mit_ampel(rest):
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
    anfrage: Anfrage, projekte: Sequence[str], ampel: Ampel
) -> Antwort | None:
    """Ein Tipp auf 🟢 🟡 🔴 ✅ an der Nachricht eines Projekts: nur die Ampel."""
    kandidaten = _genannte(anfrage, projekte)
    if len(kandidaten) != 1:
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

    `None`, wenn zu dem Ereignis keine Meldung gehört (dann war es vielleicht ein vertippter
    Befehl). Eine leere `Antwort`, wenn die Bearbeitung die Meldung nicht ändert, weil sie
    nicht von dieser Person, schon zurückgezogen oder aus einem anderen Raum ist: der Bot
    schweigt. Die Berechtigung wird neu geprüft, gleich woher die Meldung stammt: wer heute
    nicht mehr für das Feld melden darf, ändert auch alte Meldungen nicht.
    """
    gefunden = await meldung_zum_ereignis(anfrage.sitzung, original_event_id)
    if gefunden is None:
        return None
    gespeichert, autor = gefunden
    # Bearbeiten kann man nur eigene Nachrichten, und nur im Raum des Originals (so will es
    # die Matrix-Spezifikation); alles andere ist keine Änderung dieser Meldung.
    if (
        autor != anfrage.absender
        or gespeichert.zurueckgezogen
        or gespeichert.raum_id != anfrage.raum_id
    ):
        return Antwort()
    bisher = next((p for p in anfrage.verzeichnis.projekte if p.id == gespeichert.projekt_id), None)
    if bisher is None:
        raise Benutzerfehler(
            "Das Projekt dieser Meldung ist archiviert; die Meldung lässt sich nicht mehr ändern."
        )
    if gespeichert.quelle == Quelle.BEFEHL:
        _name, _, argumente = neuer_text.strip().removeprefix(anfrage.praefix).partition(" ")
        neu = meldebefehl.lies_argumente(argumente)
        projekt = finde_projekt(anfrage.verzeichnis, neu.projekt, anfrage.praefix).eintrag
        inhalt = neu.inhalt
    else:
        projekt, inhalt = bisher, lies_meldungsinhalt(neuer_text)
    # Wer heute nicht (mehr) für das Feld melden darf, ändert auch die alte Meldung nicht.
    # Beide Felder zählen: das, aus dem die Meldung weggeht, und das, in das sie kommt.
    for eintrag in dict.fromkeys((bisher, projekt)):
        feld = anfrage.verzeichnis.feld(eintrag.themenfeld_id)
        assert feld is not None  # das Verzeichnis kennt nur Projekte aktiver Felder
        pruefe_meldung(anfrage.verzeichnis, anfrage.absender, feld)
    aendere_meldung(
        gespeichert,
        projekt_id=projekt.id,
        ampel=inhalt.ampel,
        fortschritt=inhalt.fortschritt,
        text=inhalt.text,
        herausforderungen=inhalt.herausforderungen,
        zeitpunkt=anfrage.jetzt,
    )
    return Antwort(
        Nachricht().absatz(
            f"Meldung aktualisiert: {ampeltext(inhalt.ampel)}"
            + (f", {inhalt.fortschritt} %" if inhalt.fortschritt is not None else "")
            + "."
        )
    )


async def zurueckziehen(anfrage: Anfrage, event_id: str) -> Antwort | None:
    """Die Nachricht oder Reaktion einer Meldung wurde gelöscht: die Meldung zählt nicht mehr.

    Nur wenn die Autor*in oder die Stabsstelle gelöscht hat, und im Raum der Meldung. Löscht
    jemand anderes (eine Moderator*in darf im Raum fremde Nachrichten löschen), bleibt die
    Meldung stehen; das Protokoll nennt es.
    """
    gefunden = await meldung_zum_ereignis(anfrage.sitzung, event_id)
    if gefunden is None or gefunden[0].zurueckgezogen:
        return None
    meldung, autor = gefunden
    if meldung.raum_id != anfrage.raum_id or not darf_zurueckziehen(
        anfrage.verzeichnis, anfrage.absender, autor
    ):
        log.warning(
            "Löschung von %s durch %s in %s: Meldung %s (von %s, Raum %s) bleibt stehen",
            event_id,
            anfrage.absender,
            anfrage.raum_id,
            meldung.id,
            autor,
            meldung.raum_id,
        )
        return None
    ziehe_zurueck(meldung, anfrage.jetzt)
    projekt = next((p for p in anfrage.verzeichnis.projekte if p.id == meldung.projekt_id), None)
    titel = f" zu „{projekt.titel}“" if projekt else ""
    return Antwort(Nachricht().absatz(f"Die Meldung{titel} ist zurückgezogen."))
