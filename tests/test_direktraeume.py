"""Direkträume: je Person höchstens einer, der gilt; aufgegeben ist aufgegeben."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from modelle.datenbank import Sitzungsfabrik
from modelle.direktraeume import (
    aktiver_direktraum,
    beabsichtige_direktraum,
    gib_direktraum_auf,
    person_im_direktraum,
    trage_direktraum_ein,
    vermerke_raum,
)
from modelle.tabellen import Direktraum

ANNA = "@anna:example.org"
BERND = "@bernd:example.org"


async def _alle(sitzungen: Sitzungsfabrik) -> list[tuple[str, str | None, bool]]:
    async with sitzungen() as sitzung:
        zeilen = await sitzung.scalars(select(Direktraum).order_by(Direktraum.id))
        return [(z.matrix_id, z.raum_id, z.aufgegeben_am is None) for z in zeilen]


async def test_absicht_wird_zum_raum_und_nennt_ihre_person(sitzungen: Sitzungsfabrik) -> None:
    async with sitzungen.begin() as sitzung:
        absicht = await beabsichtige_direktraum(sitzung, ANNA)
    assert len(absicht.kennung) >= 32
    async with sitzungen() as sitzung:
        # Solange der Raum fehlt, gehört noch kein Raum der Person.
        assert (await aktiver_direktraum(sitzung, ANNA)) is not None
        assert await person_im_direktraum(sitzung, "!dm:example.org") is None
    async with sitzungen.begin() as sitzung:
        await vermerke_raum(sitzung, absicht.id, "!dm:example.org")
    async with sitzungen() as sitzung:
        assert await person_im_direktraum(sitzung, "!dm:example.org") == ANNA
        aktiv = await aktiver_direktraum(sitzung, ANNA)
        assert aktiv is not None
        assert aktiv.raum_id == "!dm:example.org"


async def test_nie_zwei_geltende_direktraeume_je_person(sitzungen: Sitzungsfabrik) -> None:
    async with sitzungen.begin() as sitzung:
        await beabsichtige_direktraum(sitzung, ANNA)
    with pytest.raises(IntegrityError):
        async with sitzungen.begin() as sitzung:
            await beabsichtige_direktraum(sitzung, ANNA)
    # Eine andere Person, und nach dem Aufgeben dieselbe wieder: kein Konflikt.
    async with sitzungen.begin() as sitzung:
        await beabsichtige_direktraum(sitzung, BERND)
        aktiv = await aktiver_direktraum(sitzung, ANNA)
        assert aktiv is not None
        await gib_direktraum_auf(sitzung, aktiv.id)
    async with sitzungen.begin() as sitzung:
        await beabsichtige_direktraum(sitzung, ANNA)
    assert [(m, aktiv) for m, _, aktiv in await _alle(sitzungen)] == [
        (ANNA, False),
        (BERND, True),
        (ANNA, True),
    ]


async def test_aufgegebener_direktraum_nennt_niemanden_mehr(sitzungen: Sitzungsfabrik) -> None:
    async with sitzungen.begin() as sitzung:
        eintrag = await trage_direktraum_ein(sitzung, ANNA, "!dm:example.org")
        await gib_direktraum_auf(sitzung, eintrag.id)
    async with sitzungen() as sitzung:
        assert await person_im_direktraum(sitzung, "!dm:example.org") is None
        assert await aktiver_direktraum(sitzung, ANNA) is None


async def test_selbst_geoeffneter_direktraum_gilt_ab_jetzt(sitzungen: Sitzungsfabrik) -> None:
    async with sitzungen.begin() as sitzung:
        absicht = await beabsichtige_direktraum(sitzung, ANNA)
        await vermerke_raum(sitzung, absicht.id, "!vom-bot:example.org")
    async with sitzungen.begin() as sitzung:
        await trage_direktraum_ein(sitzung, ANNA, "!von-anna:example.org")
    async with sitzungen.begin() as sitzung:
        # Noch einmal eingetragen: ändert nichts.
        await trage_direktraum_ein(sitzung, ANNA, "!von-anna:example.org")
    assert await _alle(sitzungen) == [
        (ANNA, "!vom-bot:example.org", False),
        (ANNA, "!von-anna:example.org", True),
    ]
    async with sitzungen() as sitzung:
        assert await person_im_direktraum(sitzung, "!von-anna:example.org") == ANNA
        assert await person_im_direktraum(sitzung, "!vom-bot:example.org") is None
    # Lädt sie den Bot wieder in den alten Raum ein, gilt wieder der.
    async with sitzungen.begin() as sitzung:
        await trage_direktraum_ein(sitzung, ANNA, "!vom-bot:example.org")
    assert await _alle(sitzungen) == [
        (ANNA, "!vom-bot:example.org", True),
        (ANNA, "!von-anna:example.org", False),
    ]


async def test_raum_einer_anderen_person_wird_nicht_umgeschrieben(
    sitzungen: Sitzungsfabrik,
) -> None:
    async with sitzungen.begin() as sitzung:
        await trage_direktraum_ein(sitzung, ANNA, "!dm:example.org")
    with pytest.raises(ValueError, match="schon der Direktraum"):
        async with sitzungen.begin() as sitzung:
            await trage_direktraum_ein(sitzung, BERND, "!dm:example.org")
    async with sitzungen() as sitzung:
        assert await person_im_direktraum(sitzung, "!dm:example.org") == ANNA
