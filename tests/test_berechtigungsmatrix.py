"""Die Berechtigungsmatrix: jeder Befehl × jede Rolle, mit erwartetem Ergebnis in einer Tabelle.

Erlaubt heißt: der Befehl wirkt (Meldung quittiert, Auskunft gegeben, Zeitplan geändert).
Verweigert heißt: höfliche Absage, und nichts ist geschrieben.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from modelle.datenbank import Sitzungsfabrik
from modelle.direktraeume import trage_direktraum_ein
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


# --- Was mit einer Meldung geschehen darf, und wo der Bot überhaupt handelt ----------------
# Jede Zeile: Aktion → wer sie mit Wirkung ausführt. Die Meldung hat die Pat*in im Raum ihres
# Felds abgegeben; der Direktraum gehört der Pat*in.

RAUM_FREMD = "!irgendwo:muenster.de"
DIREKT_PATIN = "!direkt-patin:muenster.de"

AKTIONEN: dict[str, set[str]] = {
    # Zurückziehen (Nachricht löschen): Autor*in und Stabsstelle – Moderation zählt nicht.
    "loeschen": {"patin_des_felds", "stabsstelle"},
    # Ändern (Nachricht bearbeiten): nur die Autor*in.
    "bearbeiten": {"patin_des_felds"},
    # !status im Direktraum der Pat*in: nur für sie.
    "direktraum": {"patin_des_felds"},
    # !status in einem Raum außerhalb der Struktur: niemand.
    "fremder_raum": set(),
}

AKTIONSFAELLE = [(aktion, rolle) for aktion in AKTIONEN for rolle in ROLLEN]


async def _ampel_der_waermeplanung(sitzungen: Sitzungsfabrik) -> tuple[str, bool]:
    async with sitzungen() as sitzung:
        zeile = (
            await sitzung.execute(
                select(Statusmeldung.ampel, Statusmeldung.zurueckgezogen)
                .where(Statusmeldung.event_id.is_not(None))
                .order_by(Statusmeldung.id.desc())
            )
        ).first()
    assert zeile is not None
    return str(zeile[0]), bool(zeile[1])


@pytest.mark.parametrize(
    ("aktion", "rolle"), AKTIONSFAELLE, ids=[f"{a}|{r}" for a, r in AKTIONSFAELLE]
)
async def test_berechtigungsmatrix_meldungen_und_raeume(
    testbot: Testbot, sitzungen: Sitzungsfabrik, aktion: str, rolle: str
) -> None:
    erlaubt = rolle in AKTIONEN[aktion]
    als = ROLLEN[rolle]
    async with sitzungen.begin() as sitzung:
        await trage_direktraum_ein(sitzung, PATIN_ENERGIE, DIREKT_PATIN)
    meldung = await testbot.sende(
        "!meldung waermeplanung rot 10%", als=PATIN_ENERGIE, raum=RAUM_ENERGIE
    )
    assert meldung.reaktionen == ["✅"]

    match aktion:
        case "loeschen":
            await testbot.loesche(meldung.event_id, als=als, raum=RAUM_ENERGIE)
            assert (await _ampel_der_waermeplanung(sitzungen))[1] is erlaubt
        case "bearbeiten":
            await testbot.bearbeite(
                meldung.event_id, "!meldung waermeplanung gelb 20%", als=als, raum=RAUM_ENERGIE
            )
            ampel, zurueckgezogen = await _ampel_der_waermeplanung(sitzungen)
            assert not zurueckgezogen
            assert (ampel == "gelb") is erlaubt
        case "direktraum" | "fremder_raum":
            raum = DIREKT_PATIN if aktion == "direktraum" else RAUM_FREMD
            antwort = await testbot.sende("!status energie", als=als, raum=raum)
            assert bool(antwort.alle) is erlaubt
