"""`!wer [themenfeld]` – wer für ein Themenfeld zuständig ist.

Namen erscheinen als Text mit der Matrix-ID daneben, nicht als Erwähnung: wer nachschlägt,
soll niemanden anpingen.
"""

from __future__ import annotations

from collections.abc import Sequence

from befehle.grundlagen import Anfrage, Antwort, befehl, ein_optionales_wort
from befehle.nachricht import Code, Fett, Nachricht, Teil
from befehle.suche import finde_feld, verstanden
from modelle.verzeichnis import FeldEintrag, PersonEintrag, Verzeichnis
from modelle.werte import Rolle


@befehl(
    name="wer",
    aliase=("zustaendig", "kontakt"),
    syntax="[themenfeld]",
    kurz="Themenpat*in, Klimakoordinator*innen und Raum eines Themenfelds",
    hilfe=(
        "Mit Themenfeld: seine Themenpat*in, seine Klimakoordinator*innen und sein Raum. "
        "Ohne Angabe im Raum eines Themenfelds dieses Feld, sonst alle Themenfelder und die "
        "Stabsstelle Klima. Niemand wird dabei angepingt."
    ),
    beispiele=("wer energie", "wer"),
    abschnitt="Auskunft",
    argumente=ein_optionales_wort,
    nur_lesend=True,
)
async def wer(anfrage: Anfrage, ziel: str | None) -> Antwort:
    verzeichnis = anfrage.verzeichnis
    if ziel is None:
        feld = verzeichnis.feld(anfrage.raum_feld_id) if anfrage.raum_feld_id else None
        return Antwort(zustaendige(verzeichnis, feld) if feld else alle_zustaendigen(anfrage))
    fund = finde_feld(verzeichnis, ziel, anfrage.praefix)
    nachricht = zustaendige(verzeichnis, fund.eintrag)
    if fund.gedeutet:
        nachricht.absatz(verstanden(ziel, fund.eintrag))
    return Antwort(nachricht)


def zustaendige(verzeichnis: Verzeichnis, feld: FeldEintrag) -> Nachricht:
    patin = verzeichnis.personen_mit(Rolle.PATIN, feld.id)
    koordination = verzeichnis.personen_mit(Rolle.KOORDINATION, feld.id)
    stabsstelle = verzeichnis.personen_mit(Rolle.STABSSTELLE)
    return Nachricht().absatz(
        Fett(f"Themenfeld {feld.name}"),
        ["Themenpat*in: ", *_personen(patin)],
        [f"{_koordination_titel(koordination)}: ", *_personen(koordination)],
        ["Raum: ", *_raum(feld)],
        ["Für alle Themenfelder: Stabsstelle Klima – ", *_personen(stabsstelle)],
    )


def alle_zustaendigen(anfrage: Anfrage) -> Nachricht:
    verzeichnis = anfrage.verzeichnis
    nachricht = Nachricht().absatz(Fett("Zuständige in den Themenfeldern"))
    zeilen: list[list[Teil | list[Teil]]] = []
    textzeilen: list[list[Teil]] = []
    for feld in verzeichnis.felder:
        patin = _personen(verzeichnis.personen_mit(Rolle.PATIN, feld.id))
        koordination = _personen(verzeichnis.personen_mit(Rolle.KOORDINATION, feld.id))
        raum = _raum(feld)
        zeilen.append([Fett(feld.name), patin, koordination, raum])
        textzeilen.append(
            [
                Fett(feld.name),
                ": Themenpat*in ",
                *patin,
                " · Klimakoordination ",
                *koordination,
                " · Raum ",
                *raum,
            ]
        )
    nachricht.tabelle(
        ["Themenfeld", "Themenpat*in", "Klimakoordinator*innen", "Raum"], zeilen, textzeilen
    )
    stabsstelle = verzeichnis.personen_mit(Rolle.STABSSTELLE)
    nachricht.absatz([Fett("Stabsstelle Klima"), ": ", *_personen(stabsstelle)])
    nachricht.absatz(["Ein Themenfeld im Einzelnen: ", Code(f"{anfrage.praefix}wer <themenfeld>")])
    return nachricht


def _personen(personen: Sequence[PersonEintrag]) -> list[Teil]:
    """„Name (`@id:server`), …“ – bewusst ohne `Erwaehnung`, damit niemand gepingt wird."""
    if not personen:
        return ["niemand eingetragen"]
    teile: list[Teil] = []
    for person in personen:
        teile += [person.anzeigename, " (", Code(person.matrix_id), "), "]
    teile[-1] = ")"
    return teile


def _koordination_titel(koordination: Sequence[PersonEintrag]) -> str:
    return "Klimakoordinator*in" if len(koordination) == 1 else "Klimakoordinator*innen"


def _raum(feld: FeldEintrag) -> list[Teil]:
    adresse = feld.raum_adresse or feld.raum_id
    return [Code(adresse)] if adresse else ["noch keiner"]
