"""`!projekte [themenfeld]` – die aktiven Strategieprojekte mit ihren Kürzeln."""

from __future__ import annotations

from befehle import schreibweise
from befehle.grundlagen import Anfrage, Antwort, befehl, ein_optionales_wort
from befehle.nachricht import Code, Fett, Nachricht, Teil
from befehle.suche import finde_feld, verstanden
from modelle.verzeichnis import FeldEintrag


@befehl(
    name="projekte",
    syntax="[themenfeld]",
    kurz="Die aktiven Strategieprojekte und ihre Kürzel",
    hilfe=(
        "Ohne Angabe: alle aktiven Strategieprojekte, nach Themenfeld geordnet – im Raum eines "
        "Themenfelds nur dessen Projekte. Mit Themenfeld: dessen Projekte. Das Kürzel vorn "
        "ist der Name, den Meldungen und andere Befehle erwarten; ein eindeutiger Anfang "
        "genügt dort auch."
    ),
    beispiele=("projekte energie", "projekte"),
    abschnitt="Auskunft",
    argumente=ein_optionales_wort,
    nur_lesend=True,
)
async def projekte(anfrage: Anfrage, ziel: str | None) -> Antwort:
    if ziel is None:
        feld = anfrage.verzeichnis.feld(anfrage.raum_feld_id) if anfrage.raum_feld_id else None
        return feldprojekte(anfrage, feld) if feld is not None else alle_projekte(anfrage)
    fund = finde_feld(anfrage.verzeichnis, ziel, anfrage.praefix)
    antwort = feldprojekte(anfrage, fund.eintrag)
    if fund.gedeutet and antwort.nachricht is not None:
        antwort.nachricht.absatz(verstanden(ziel, fund.eintrag))
    return antwort


def feldprojekte(anfrage: Anfrage, feld: FeldEintrag) -> Antwort:
    """Ein Feld: Antworten auf diese Nachricht lassen sich seinen Projekten zuordnen."""
    liste = anfrage.verzeichnis.projekte_von(feld.id)
    kopf: list[Teil] = [
        Fett(f"Themenfeld {feld.name}"),
        f" – {schreibweise.anzahl(len(liste), 'Projekt', 'Projekte')}",
    ]
    if not liste:
        return Antwort(
            Nachricht().absatz(kopf).absatz("Dieses Themenfeld hat keine aktiven Projekte.")
        )

    def baue(breite: schreibweise.Zellbreite) -> Nachricht:
        nachricht = Nachricht().absatz(kopf)
        nachricht.liste([Code(p.slug), " – ", breite.titel_von(p.titel)] for p in liste)
        return nachricht.absatz(
            [
                "Stand eines Projekts: ",
                Code(f"{anfrage.praefix}status <projekt>"),
                "  ·  Melden: auf diese Nachricht antworten, mit Projektname vorweg, z. B. ",
                f"„{liste[0].slug} gelb, 40 %, Ausschreibung läuft“.",
            ]
        )

    return Antwort(schreibweise.passend(baue), projekte=tuple(p.slug for p in liste))


def alle_projekte(anfrage: Anfrage) -> Antwort:
    """Alle Felder: keine Projektbezüge, eine Antwort darauf wäre zu vieldeutig."""
    verzeichnis = anfrage.verzeichnis
    gesamt = schreibweise.anzahl(len(verzeichnis.projekte), "aktives Projekt", "aktive Projekte")

    def baue(breite: schreibweise.Zellbreite) -> Nachricht:
        nachricht = Nachricht().absatz([Fett("Strategieprojekte"), f" – {gesamt}"])
        for feld in verzeichnis.felder:
            liste = verzeichnis.projekte_von(feld.id)
            nachricht.absatz([Fett(feld.name), " (", Code(feld.slug), ")"])
            if liste:
                nachricht.liste([Code(p.slug), " – ", breite.titel_von(p.titel)] for p in liste)
            else:
                nachricht.absatz("keine aktiven Projekte")
        return nachricht.absatz(
            ["Nur ein Themenfeld: ", Code(f"{anfrage.praefix}projekte <themenfeld>")]
        )

    return Antwort(schreibweise.passend(baue))
