"""`!themen` – die aktiven Themenfelder und wer sie verantwortet."""

from __future__ import annotations

from befehle import schreibweise
from befehle.grundlagen import Anfrage, Antwort, befehl, keine_argumente
from befehle.nachricht import Code, Fett, Nachricht, Teil
from modelle.werte import Rolle


@befehl(
    name="themen",
    aliase=("themenfelder", "felder"),
    kurz="Die Themenfelder mit Kürzel, Projektzahl und Themenpat*in",
    hilfe=(
        "Alle aktiven Themenfelder: Name, Kürzel und weitere Namen, unter denen andere Befehle "
        "das Feld finden, die Zahl der aktiven Strategieprojekte und die Themenpat*in."
    ),
    beispiele=("themen",),
    abschnitt="Auskunft",
    argumente=keine_argumente,
    nur_lesend=True,
)
async def themen(anfrage: Anfrage, _: None) -> Antwort:
    verzeichnis = anfrage.verzeichnis
    praefix = anfrage.praefix
    felder = verzeichnis.felder
    nachricht = Nachricht().absatz(
        Fett(schreibweise.anzahl(len(felder), "Themenfeld", "Themenfelder"))
    )
    if not felder:
        return Antwort(nachricht.absatz("Es gibt noch keine aktiven Themenfelder."))
    zeilen: list[list[Teil | list[Teil]]] = []
    textzeilen: list[list[Teil]] = []
    for feld in felder:
        zahl = len(verzeichnis.projekte_von(feld.id))
        projekte = schreibweise.anzahl(zahl, "Projekt", "Projekte")
        patin = ", ".join(p.anzeigename for p in verzeichnis.personen_mit(Rolle.PATIN, feld.id))
        aliase = ", ".join(feld.aliase)
        zeilen.append([Fett(feld.name), Code(feld.slug), aliase or "–", str(zahl), patin or "–"])
        textzeile: list[Teil] = [Fett(feld.name), " (", Code(feld.slug), f") · {projekte}"]
        textzeile.append(f" · Themenpat*in: {patin or 'nicht besetzt'}")
        if aliase:
            textzeile.append(f" · auch: {aliase}")
        textzeilen.append(textzeile)
    nachricht.tabelle(
        ["Themenfeld", "Kürzel", "Auch", "Aktive Projekte", "Themenpat*in"], zeilen, textzeilen
    )
    nachricht.absatz(
        [
            "Projekte eines Felds: ",
            Code(f"{praefix}projekte <themenfeld>"),
            "  ·  Zuständige: ",
            Code(f"{praefix}wer <themenfeld>"),
        ]
    )
    return Antwort(nachricht)
