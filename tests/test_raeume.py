"""Wo der Bot handelt: in den Räumen der Struktur und in Direkträumen ihrer Personen.

Was der Homeserver dazu beiträgt (Einladungen, Verlassen), zeigt
tests/integration/test_vertrauen.py.
"""

from __future__ import annotations

from sqlalchemy import func, select

from modelle.datenbank import Sitzungsfabrik
from modelle.direktraeume import trage_direktraum_ein
from modelle.tabellen import Statusmeldung
from tests.testbot import (
    AUSSENSTEHENDE,
    KOORDINATION_ENERGIE,
    PATIN_ENERGIE,
    RAUM_ENERGIE,
    RAUM_STABSSTELLE,
    Testbot,
)

RAUM_FREMD = "!irgendwo:muenster.de"
DIREKT_PATIN = "!direkt-patin:muenster.de"
DIREKT_OHNE_ROLLE = "!direkt-max:muenster.de"


async def _meldungen(sitzungen: Sitzungsfabrik) -> int:
    async with sitzungen() as sitzung:
        return int(await sitzung.scalar(select(func.count()).select_from(Statusmeldung)) or 0)


async def test_in_einem_raum_ausserhalb_der_struktur_zeigt_der_bot_nichts(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    for befehl in ("!status", "!status energie", "!verlauf waermeplanung", "!wer", "!hilfe"):
        assert (await testbot.sende(befehl, als=AUSSENSTEHENDE, raum=RAUM_FREMD)).alle == []
    vorher = await _meldungen(sitzungen)
    meldung = await testbot.sende("!meldung waermeplanung rot", als=PATIN_ENERGIE, raum=RAUM_FREMD)
    assert meldung.alle == []
    assert await _meldungen(sitzungen) == vorher


async def test_in_den_raeumen_der_struktur_antwortet_der_bot_allen(testbot: Testbot) -> None:
    for raum in (RAUM_ENERGIE, RAUM_STABSSTELLE):  # Themenfeld und Stabsstelle
        antwort = await testbot.sende("!status energie", als=AUSSENSTEHENDE, raum=raum)
        assert "Kommunale Wärmeplanung" in antwort.text


async def test_im_direktraum_antwortet_der_bot_nur_der_person_der_struktur(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    async with sitzungen.begin() as sitzung:
        await trage_direktraum_ein(sitzung, PATIN_ENERGIE, DIREKT_PATIN)
        await trage_direktraum_ein(sitzung, AUSSENSTEHENDE, DIREKT_OHNE_ROLLE)
    antwort = await testbot.sende("!status energie", als=PATIN_ENERGIE, raum=DIREKT_PATIN)
    assert "Kommunale Wärmeplanung" in antwort.text
    meldung = await testbot.sende(
        "!meldung waermeplanung gelb", als=PATIN_ENERGIE, raum=DIREKT_PATIN
    )
    assert meldung.reaktionen == ["✅"]
    # Wer sonst in diesem Raum schreibt, bekommt nichts; eine Person ohne Rolle ebenso.
    fremd = await testbot.sende("!status", als=KOORDINATION_ENERGIE, raum=DIREKT_PATIN)
    assert fremd.alle == []
    ohne_rolle = await testbot.sende("!status", als=AUSSENSTEHENDE, raum=DIREKT_OHNE_ROLLE)
    assert ohne_rolle.alle == []
