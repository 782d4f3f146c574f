"""`!meldung <projekt> <ampel> [fortschritt %] [text] [Herausforderung: …]`"""

from __future__ import annotations

from dataclasses import dataclass

from befehle.berechtigung import pruefe_meldung
from befehle.grundlagen import (
    Anfrage,
    Antwort,
    Argumentfehler,
    Berechtigung,
    befehl,
)
from befehle.meldungsleser import Meldungsinhalt, lies_meldungsinhalt
from befehle.nachricht import Nachricht, gekuerzt
from befehle.suche import bezeichnung, finde_projekt
from modelle.meldungen import speichere_meldung
from modelle.verzeichnis import ProjektEintrag
from modelle.werte import Ampel, Quelle

QUITTUNG = "✅"


@dataclass(frozen=True, slots=True)
class MeldungArgumente:
    projekt: str
    inhalt: Meldungsinhalt


def lies_argumente(text: str) -> MeldungArgumente:
    projekt, _, rest = text.strip().partition(" ")
    if not projekt:
        raise Argumentfehler("Es fehlen Projekt und Ampel.")
    return MeldungArgumente(projekt, lies_meldungsinhalt(rest))


@befehl(
    name="meldung",
    aliase=("melden",),
    syntax="<projekt> <ampel> [fortschritt %] [text] [Herausforderung: …]",
    kurz="Statusmeldung zu einem Projekt abgeben",
    hilfe=(
        "Ampel ist grün, gelb, rot oder abgeschlossen (auch 🟢 🟡 🔴 ✅). Fortschritt in "
        "Prozent und Text sind freiwillig; was nach „Herausforderung:“ steht, erscheint im "
        "Wochenbericht. Ein eindeutiger Anfang des Projektnamens genügt. Wer die Nachricht "
        "danach bearbeitet oder löscht, ändert bzw. zieht die Meldung zurück."
    ),
    beispiele=(
        "meldung waermeplanung gelb 40% Ausschreibung verzögert sich",
        "meldung radvorrangrouten grün 65 % Abschnitt Nord fertig Herausforderung: Grunderwerb",
    ),
    abschnitt="Meldungen",
    berechtigung=Berechtigung.MELDENDE,
    argumente=lies_argumente,
)
async def meldung(anfrage: Anfrage, argumente: MeldungArgumente) -> Antwort:
    fund = finde_projekt(anfrage.verzeichnis, argumente.projekt, anfrage.praefix)
    hinweis = (
        f"„{gekuerzt(argumente.projekt)}“ als {bezeichnung(fund.eintrag)} verstanden."
        if fund.gedeutet
        else None
    )
    return await speichere(anfrage, fund.eintrag, argumente.inhalt, Quelle.BEFEHL, hinweis)


async def speichere(
    anfrage: Anfrage,
    projekt: ProjektEintrag,
    inhalt: Meldungsinhalt,
    quelle: Quelle,
    hinweis: str | None = None,
) -> Antwort:
    """Prüft die Berechtigung, speichert und quittiert – für Befehl, Antwort und Reaktion gleich."""
    feld = anfrage.verzeichnis.feld(projekt.themenfeld_id)
    assert feld is not None  # das Verzeichnis kennt nur Projekte aktiver Felder
    pruefe_meldung(anfrage.verzeichnis, anfrage.absender, feld)
    person = anfrage.verzeichnis.personen[anfrage.absender]
    await speichere_meldung(
        anfrage.sitzung,
        projekt_id=projekt.id,
        autor_id=person.id,
        ampel=inhalt.ampel,
        fortschritt=inhalt.fortschritt,
        text=inhalt.text,
        herausforderungen=inhalt.herausforderungen,
        quelle=quelle,
        zeitpunkt=anfrage.jetzt,
        event_id=anfrage.event_id,
        raum_id=anfrage.raum_id,
    )
    zeilen = [hinweis] if hinweis else []
    if inhalt.ampel is Ampel.ABGESCHLOSSEN:
        zeilen.append(f"„{projekt.titel}“ ist als abgeschlossen gemeldet. Danke!")
    nachricht = Nachricht().absatz(*zeilen) if zeilen else None
    return Antwort(nachricht, reaktion=QUITTUNG)
