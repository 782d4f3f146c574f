"""Das migrierte Schema ist das der Modelle, und die Datenbank selbst schützt die Daten."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from modelle.basis import Basis
from modelle.datenbank import Sitzungsfabrik
from modelle.migration import ausstehende_migrationen
from modelle.tabellen import (
    Person,
    Rollenzuweisung,
    Statusmeldung,
    Strategieprojekt,
    Themenfeld,
)
from modelle.werte import Ampel, Quelle, Rolle


async def test_migriertes_schema_entspricht_den_modellen(engine: AsyncEngine) -> None:
    async with engine.connect() as verbindung:
        unterschiede = await verbindung.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Basis.metadata)
        )
    assert unterschiede == []
    assert await ausstehende_migrationen(engine) == []


async def _feld_mit_projekt(sitzungen: Sitzungsfabrik) -> int:
    async with sitzungen.begin() as s:
        feld = Themenfeld(slug="energie", name="Energie")
        s.add(feld)
        await s.flush()
        projekt = Strategieprojekt(slug="waermeplanung", titel="Wärmeplanung", themenfeld=feld)
        s.add(projekt)
        await s.flush()
        return projekt.id


@pytest.mark.parametrize(
    "werte",
    [
        {"ampel": "lila"},
        {"fortschritt": 101},
        {"fortschritt": -1},
        {"quelle": "fax"},
    ],
    ids=["unbekannte-ampel", "fortschritt-ueber-100", "fortschritt-negativ", "unbekannte-quelle"],
)
async def test_datenbank_weist_ungueltige_statusmeldung_ab(
    sitzungen: Sitzungsfabrik, werte: dict[str, object]
) -> None:
    projekt_id = await _feld_mit_projekt(sitzungen)
    daten: dict[str, object] = {
        "projekt_id": projekt_id,
        "ampel": Ampel.GRUEN,
        "quelle": Quelle.BEFEHL,
        **werte,
    }
    with pytest.raises(IntegrityError):
        async with sitzungen.begin() as s:
            s.add(Statusmeldung(**daten))
    async with sitzungen() as s:
        assert (await s.scalars(select(Statusmeldung))).all() == []


async def test_datenbank_weist_doppelten_slug_und_fremden_schluessel_ab(
    sitzungen: Sitzungsfabrik,
) -> None:
    await _feld_mit_projekt(sitzungen)
    with pytest.raises(IntegrityError):
        async with sitzungen.begin() as s:
            s.add(Themenfeld(slug="energie", name="Nochmal Energie"))
    with pytest.raises(IntegrityError):
        async with sitzungen.begin() as s:
            s.add(Strategieprojekt(slug="geister", titel="Ohne Feld", themenfeld_id=999))


async def test_nur_eine_patin_je_themenfeld(sitzungen: Sitzungsfabrik) -> None:
    async with sitzungen.begin() as s:
        feld = Themenfeld(slug="energie", name="Energie")
        anna = Person(matrix_id="@anna:example.org", anzeigename="Anna")
        ben = Person(matrix_id="@ben:example.org", anzeigename="Ben")
        s.add_all([feld, anna, ben])
        await s.flush()
        s.add(Rollenzuweisung(person=anna, rolle=Rolle.PATIN, themenfeld_id=feld.id))
    with pytest.raises(IntegrityError):
        async with sitzungen.begin() as s:
            s.add(Rollenzuweisung(person_id=2, rolle=Rolle.PATIN, themenfeld_id=1))


async def test_zeitpunkte_kommen_zeitzonenbewusst_in_utc_zurueck(
    sitzungen: Sitzungsfabrik,
) -> None:
    projekt_id = await _feld_mit_projekt(sitzungen)
    berlin = dt.datetime(2026, 3, 29, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    async with sitzungen.begin() as s:
        s.add(
            Statusmeldung(
                projekt_id=projekt_id, ampel=Ampel.GELB, quelle=Quelle.BEFEHL, zeitpunkt=berlin
            )
        )
    async with sitzungen() as s:
        meldung = (await s.scalars(select(Statusmeldung))).one()
    assert meldung.zeitpunkt == berlin
    assert meldung.zeitpunkt.utcoffset() == dt.timedelta(0)


async def test_naiver_zeitpunkt_wird_abgewiesen(sitzungen: Sitzungsfabrik) -> None:
    projekt_id = await _feld_mit_projekt(sitzungen)
    with pytest.raises(Exception, match="ohne Zeitzone"):
        async with sitzungen.begin() as s:
            s.add(
                Statusmeldung(
                    projekt_id=projekt_id,
                    ampel=Ampel.GELB,
                    quelle=Quelle.BEFEHL,
                    zeitpunkt=dt.datetime(2026, 1, 1, 9, 0),
                )
            )
