"""Die Berechtigungsmatrix: jeder Befehl × jede Rolle, mit erwartetem Ergebnis in einer Tabelle.

Erlaubt heißt: der Befehl wirkt (Meldung quittiert, Auskunft gegeben, Zeitplan geändert).
Verweigert heißt: höfliche Absage, und nichts ist geschrieben.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from modelle.datenbank import Sitzungsfabrik
from modelle.tabellen import Aenderung, Statusmeldung
from tests.testbot import (
    AUSSENSTEHENDE,
    KOORDINATION_ENERGIE,
    PATIN_ENERGIE,
    PATIN_MOBILITAET,
    RAUM_ENERGIE,
    STABSSTELLE,
    Antworten,
    Testbot,
)

FREMDER_SERVER = "@jemand:anderer-server.example"

ROLLEN = {
    "patin_des_felds": PATIN_ENERGIE,
    "patin_anderes_feld": PATIN_MOBILITAET,
    "koordination": KOORDINATION_ENERGIE,
    "stabsstelle": STABSSTELLE,
    "ohne_rolle": AUSSENSTEHENDE,
    "fremder_server": FREMDER_SERVER,
}

ALLE = set(ROLLEN)
MELDEN_ENERGIE = {"patin_des_felds", "koordination", "stabsstelle"}
NUR_STABSSTELLE = {"stabsstelle"}

# Befehl → wer ihn mit Wirkung benutzen darf. Lesen dürfen alle im Raum.
MATRIX: dict[str, set[str]] = {
    "!hilfe": ALLE,
    "!hilfe meldung": ALLE,
    "!status": ALLE,
    "!status energie": ALLE,
    "!status waermeplanung": ALLE,
    "!themen": ALLE,
    "!projekte energie": ALLE,
    "!wer energie": ALLE,
    "!verlauf waermeplanung": ALLE,
    "!zeitplan": ALLE,
    "!meldung waermeplanung gelb 40% Test": MELDEN_ENERGIE,
    "!zeitplan energie mo,do 09:00": NUR_STABSSTELLE,
    "!bericht": NUR_STABSSTELLE,
}

FAELLE = [(befehl, rolle) for befehl in MATRIX for rolle in ROLLEN]


async def _zaehle(sitzungen: Sitzungsfabrik) -> tuple[int, int]:
    async with sitzungen() as sitzung:
        meldungen = await sitzung.scalar(select(func.count()).select_from(Statusmeldung))
        protokoll = await sitzung.scalar(select(func.count()).select_from(Aenderung))
    return int(meldungen or 0), int(protokoll or 0)


def _verweigert(antwort: Antworten) -> bool:
    texte = " ".join(n.text for n in antwort.nachrichten)
    return (
        "darf nur die Stabsstelle" in texte
        or "Entschuldigung" in texte
        or ("Meldungen geben" in texte and not antwort.reaktionen)
    )


@pytest.mark.parametrize(("befehl", "rolle"), FAELLE, ids=[f"{b}|{r}" for b, r in FAELLE])
async def test_berechtigungsmatrix(
    testbot: Testbot, sitzungen: Sitzungsfabrik, befehl: str, rolle: str
) -> None:
    erlaubt = rolle in MATRIX[befehl]
    vorher = await _zaehle(sitzungen)
    antwort = await testbot.sende(befehl, als=ROLLEN[rolle], raum=RAUM_ENERGIE)
    nachher = await _zaehle(sitzungen)

    assert antwort.alle, "jede Anfrage bekommt eine Antwort"
    assert not any("Interner Fehler" in n.text for n in antwort.nachrichten)
    assert _verweigert(antwort) is not erlaubt, [n.text for n in antwort.nachrichten]
    if not erlaubt:
        assert nachher == vorher, "eine Absage schreibt nichts"
    elif befehl.startswith("!meldung"):
        assert antwort.reaktionen == ["✅"]
        assert nachher[0] == vorher[0] + 1
    elif befehl.startswith("!zeitplan energie"):
        assert nachher[1] == vorher[1] + 1
