"""Wem der Bot Raumschlüssel gibt (bot/vertrauen.py): die Regel ohne Homeserver.

Dass die Geräte im Raum sie wirklich (nicht) bekommen, zeigt tests/integration/test_vertrauen.py.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.app import setze_stabsstelle_raum
from bot.vertrauen import Schluesselvertrauen, Vertrauensregel, lies_kreuzsignatur
from modelle.datenbank import Sitzungsfabrik
from modelle.tabellen import Ausgang, Raum
from tests.kreuzsignatur import Kreuzsignatur, Schluessel, schluesselobjekt
from tests.testbot import (
    AUSSENSTEHENDE,
    KOORDINATION_ENERGIE,
    PATIN_ENERGIE,
    RAUM_STABSSTELLE,
    STABSSTELLE,
    Testbot,
)

PERSON = "@anna.becker:muenster.de"


def _geraet(geraet_id: str, person: str = PERSON) -> dict[str, Any]:
    return {
        "user_id": person,
        "device_id": geraet_id,
        "algorithms": ["m.megolm.v1.aes-sha2"],
        "keys": {f"ed25519:{geraet_id}": Schluessel().oeffentlich},
    }


def _abfrage(kreuz: Kreuzsignatur, **geraete: dict[str, Any]) -> dict[str, Any]:
    return {
        "device_keys": {kreuz.person: geraete},
        "master_keys": {kreuz.person: kreuz.hauptschluessel},
        "self_signing_keys": {kreuz.person: kreuz.self_signing},
    }


def test_bestaetigt_ist_nur_ein_von_der_person_selbst_signiertes_geraet() -> None:
    kreuz = Kreuzsignatur(PERSON)
    abfrage = _abfrage(
        kreuz,
        LAPTOP=kreuz.bestaetige(_geraet("LAPTOP")),
        HANDY=_geraet("HANDY"),
        # Signiert, aber von einem fremden Schlüssel unter dem Namen der Person.
        FREMD=Schluessel().signiere(PERSON, _geraet("FREMD")),
    )
    gelesen = lies_kreuzsignatur(abfrage, PERSON)
    assert gelesen.hauptschluessel == kreuz.haupt.oeffentlich
    assert gelesen.geraete == {"LAPTOP"}


def test_ohne_signatur_des_hauptschluessels_gilt_kein_geraet() -> None:
    kreuz = Kreuzsignatur(PERSON)
    abfrage = _abfrage(kreuz, LAPTOP=kreuz.bestaetige(_geraet("LAPTOP")))
    # Der Server (oder ein Angreifer) ersetzt den Self-Signing-Schlüssel durch einen eigenen.
    fremd = Schluessel()
    abfrage["self_signing_keys"][PERSON] = schluesselobjekt(PERSON, "self_signing", fremd)
    abfrage["device_keys"][PERSON]["LAPTOP"] = fremd.signiere(PERSON, _geraet("LAPTOP"))
    assert lies_kreuzsignatur(abfrage, PERSON).geraete == frozenset()


def test_ein_geraet_unter_falscher_kennung_gilt_nicht() -> None:
    kreuz = Kreuzsignatur(PERSON)
    andere = "@max.mustermann:muenster.de"
    abfrage = _abfrage(
        kreuz,
        UMBENANNT=kreuz.bestaetige(_geraet("ECHT")),
        FREMDPERSON=kreuz.bestaetige(_geraet("FREMDPERSON", andere)),
    )
    assert lies_kreuzsignatur(abfrage, PERSON).geraete == frozenset()


def test_ohne_cross_signing_gibt_es_keine_bestaetigten_geraete() -> None:
    gelesen = lies_kreuzsignatur({"device_keys": {PERSON: {"A": _geraet("A")}}}, PERSON)
    assert gelesen.hauptschluessel is None
    assert gelesen.geraete == frozenset()


async def test_raumschluessel_bekommen_die_personen_der_struktur_und_die_konfigurierten(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    archiv = "@archiv:muenster.de"
    vertrauen = Schluesselvertrauen(sitzungen, Vertrauensregel(auch_fuer=frozenset({archiv})))
    personen = await vertrauen.personen()
    assert {PATIN_ENERGIE, KOORDINATION_ENERGIE, STABSSTELLE, archiv} <= personen
    assert AUSSENSTEHENDE not in personen


async def _stabsstelle(sitzungen: Sitzungsfabrik) -> None:
    await setze_stabsstelle_raum(RAUM_STABSSTELLE, sitzungen)
    async with sitzungen.begin() as sitzung:
        await sitzung.execute(
            update(Raum).where(Raum.ist_stabsstelle).values(raum_id=RAUM_STABSSTELLE)
        )


async def _an_die_stabsstelle(sitzungen: Sitzungsfabrik) -> list[dict[str, Any]]:
    async with sitzungen() as sitzung:
        inhalte = await sitzung.scalars(
            select(Ausgang.inhalt).where(Ausgang.raum_id == RAUM_STABSSTELLE)
        )
        return list(inhalte)


async def test_neues_geraet_wird_der_stabsstelle_gemeldet_ohne_anzupingen(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    await _stabsstelle(sitzungen)
    geweckt: list[int] = []
    vertrauen = Schluesselvertrauen(
        sitzungen, Vertrauensregel(neue_geraete_melden=True), nach_commit=lambda: geweckt.append(1)
    )
    await vertrauen.neues_geraet(PATIN_ENERGIE, "HANDY", "Element Android <b>")
    (meldung,) = await _an_die_stabsstelle(sitzungen)
    assert "Dr. Anna Becker" in meldung["body"]
    assert "„Element Android <b>“ (HANDY)" in meldung["body"]
    assert "&lt;b&gt;" in meldung["formatted_body"]
    assert meldung["m.mentions"] == {"user_ids": []}
    assert geweckt


async def test_neues_geraet_ohne_einstellung_nur_im_protokoll(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    await _stabsstelle(sitzungen)
    vertrauen = Schluesselvertrauen(sitzungen, Vertrauensregel())
    await vertrauen.neues_geraet(PATIN_ENERGIE, "HANDY", None)
    assert await _an_die_stabsstelle(sitzungen) == []


async def test_geaenderter_hauptschluessel_faellt_auch_nach_neustart_auf(
    testbot: Testbot, sitzungen: Sitzungsfabrik, caplog: pytest.LogCaptureFixture
) -> None:
    await _stabsstelle(sitzungen)
    regel = Vertrauensregel(nur_gegengezeichnet=True, neue_geraete_melden=True)
    erst = Kreuzsignatur(PATIN_ENERGIE)
    vorher = Schluesselvertrauen(sitzungen, regel)
    await vorher.kreuzsignaturen_gelesen(_abfrage(erst), [PATIN_ENERGIE])
    assert await _an_die_stabsstelle(sitzungen) == []  # erstes Sehen: gemerkt, nicht gemeldet

    neu = Kreuzsignatur(PATIN_ENERGIE)
    neu_gestartet = Schluesselvertrauen(sitzungen, regel)
    with caplog.at_level(logging.WARNING, logger="bot.vertrauen"):
        await neu_gestartet.kreuzsignaturen_gelesen(
            _abfrage(neu, LAPTOP=neu.bestaetige(_geraet("LAPTOP", PATIN_ENERGIE))),
            [PATIN_ENERGIE],
        )
    assert "hat sich geändert" in caplog.text
    (meldung,) = await _an_die_stabsstelle(sitzungen)
    assert "Sicherheitsschlüssel" in meldung["body"]
    assert neu_gestartet.bestaetigte_geraete(PATIN_ENERGIE) == frozenset({"LAPTOP"})
