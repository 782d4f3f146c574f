"""Migrationen beim Start: ausstehende werden angewandt, sonst bleibt alembic ungeladen."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

import modelle.tabellen  # noqa: F401 – der Import trägt die Tabellen in Basis.metadata ein
from modelle.basis import Basis, UTCZeit
from modelle.datenbank import erzeuge_engine, erzeuge_sitzungsfabrik
from modelle.migration import (
    aktualisiere_schema,
    aktualisiere_schema_im_eigenen_prozess,
    alembic_konfiguration,
    ausstehende_migrationen,
    neueste_revisionen,
)
from tests import datenbanken
from tests.testbot import PATIN_ENERGIE, Testbot

WURZEL = Path(__file__).resolve().parent.parent


def _skripte() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_konfiguration())


@pytest.fixture(params=["sqlite", "postgresql"])
async def leere_engine(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncEngine]:
    """Eine Datenbank, die noch nie migriert wurde."""
    if request.param == "sqlite":
        engine = erzeuge_engine(f"sqlite+aiosqlite:///{tmp_path / 'leer.db'}")
        yield engine
        await engine.dispose()
        return
    basis = datenbanken.postgres_basis_url()
    if basis is None:
        datenbanken.ohne_postgres_ueberspringen()
    name = f"klimabot_migration_{os.getpid()}_{secrets.token_hex(4)}"
    await datenbanken.pg_ausfuehren(basis, f'CREATE DATABASE "{name}"')
    engine = erzeuge_engine(
        make_url(basis).set(database=name).render_as_string(hide_password=False)
    )
    try:
        yield engine
    finally:
        await engine.dispose()
        await datenbanken.pg_ausfuehren(basis, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_neueste_revisionen_wie_alembic() -> None:
    assert neueste_revisionen() == frozenset(_skripte().get_heads())


def _migration(verzeichnis: Path, name: str, kopf: str) -> None:
    (verzeichnis / f"{name}.py").write_text(
        f'"""{name}"""\nfrom alembic import op\n\n{kopf}\n\n\ndef upgrade() -> None:\n    pass\n'
    )


def test_neueste_revisionen_verzweigt_und_zusammengefuehrt(tmp_path: Path) -> None:
    _migration(tmp_path, "a", 'revision: str = "a"\ndown_revision: str | None = None')
    _migration(tmp_path, "b", "revision = 'b'\ndown_revision = 'a'")
    _migration(tmp_path, "c", 'revision = "c"\ndown_revision = "a"\nbranch_labels = None')
    (tmp_path / "__init__.py").write_text('revision = "kein-kopf"\ndown_revision = None\n')
    assert neueste_revisionen(tmp_path) == frozenset({"b", "c"})
    _migration(tmp_path, "d", 'revision = "d"\ndown_revision = ("b", "c")')
    assert neueste_revisionen(tmp_path) == frozenset({"d"})


@pytest.mark.parametrize(
    "kopf",
    [
        'revision = "e"\ndown_revision = "d"\ndepends_on = "x"',
        'revision = "e"\ndown_revision = "d"\nbranch_labels = ("zweig",)',
        'revision = neue_nummer()\ndown_revision = "d"',
        'revision = "e"',
        "revision = ",
    ],
    ids=["abhaengigkeit", "zweigname", "berechnet", "ohne-vorgaenger", "syntaxfehler"],
)
def test_was_nicht_schlicht_ist_entscheidet_alembic(tmp_path: Path, kopf: str) -> None:
    _migration(tmp_path, "d", 'revision = "d"\ndown_revision = None')
    _migration(tmp_path, "e", kopf)
    assert neueste_revisionen(tmp_path) is None


async def _unterschiede(engine: AsyncEngine) -> list[object]:
    async with engine.connect() as verbindung:
        return await verbindung.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Basis.metadata)
        )


async def test_leere_datenbank_wird_beim_start_migriert(leere_engine: AsyncEngine) -> None:
    await aktualisiere_schema(leere_engine)
    assert await ausstehende_migrationen(leere_engine) == []
    assert await _unterschiede(leere_engine) == []


async def test_neue_migration_wird_beim_start_angewandt(leere_engine: AsyncEngine) -> None:
    kopf = _skripte().get_revision("head")
    assert kopf is not None
    vorletzte = kopf.down_revision
    assert isinstance(vorletzte, str)
    async with leere_engine.begin() as verbindung:
        await verbindung.run_sync(
            lambda sync: command.upgrade(alembic_konfiguration(sync), vorletzte)
        )
    assert await ausstehende_migrationen(leere_engine) == [kopf.revision]

    await aktualisiere_schema(leere_engine)

    assert await ausstehende_migrationen(leere_engine) == []
    assert await _unterschiede(leere_engine) == []


async def test_auf_neuestem_stand_laeuft_alembic_nicht(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    aufrufe: list[tuple[object, ...]] = []
    monkeypatch.setattr(command, "upgrade", lambda *argumente: aufrufe.append(argumente))

    await aktualisiere_schema(engine)

    assert aufrufe == []
    assert await ausstehende_migrationen(engine) == []


async def _geladen_nach(skript: str) -> str:
    """Führt `skript` in einem frischen Interpreter aus; was es ausgibt (die Liste der geladenen
    Pakete, die nicht geladen sein sollten)."""
    ergebnis = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", textwrap.dedent(skript)],
        cwd=WURZEL,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return ergebnis.stdout.strip()


async def test_neustart_laedt_weder_alembic_noch_holidays(tmp_path: Path) -> None:
    """Speicher des laufenden Bots: ist das Schema aktuell, lädt der Start nichts davon."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'klimabot.db'}"
    engine = erzeuge_engine(url)
    try:
        await aktualisiere_schema(engine)
    finally:
        await engine.dispose()
    skript = f"""
        import asyncio, datetime, sys

        import bot.cli  # alles, was `klimabot run` importiert
        from modelle.datenbank import erzeuge_engine
        from modelle.migration import aktualisiere_schema
        from modelle.termine import ist_arbeitstag

        async def start():
            engine = erzeuge_engine({url!r})
            await aktualisiere_schema(engine)
            await engine.dispose()

        asyncio.run(start())
        assert not ist_arbeitstag(datetime.date(2026, 12, 25))
        geladen = {{name.partition(".")[0] for name in sys.modules}}
        print(*sorted(geladen & {{"alembic", "mako", "pygments", "holidays"}}))
    """
    assert await _geladen_nach(skript) == ""


async def test_erster_start_migriert_in_eigenem_prozess_und_laedt_alembic_nicht(
    leere_engine: AsyncEngine,
) -> None:
    """Erster Start oder Start nach einem Update: Das Schema kommt auf den neuesten Stand, aber
    alembic (rund 10 MB, die ein Prozess nicht zurückgibt) lädt ein eigener, kurzer Prozess."""
    url = leere_engine.url.render_as_string(hide_password=False)
    skript = f"""
        import asyncio, sys

        from modelle.datenbank import erzeuge_engine
        from modelle.migration import aktualisiere_schema_im_eigenen_prozess

        async def start():
            engine = erzeuge_engine({url!r})
            await aktualisiere_schema_im_eigenen_prozess(engine)
            await engine.dispose()

        asyncio.run(start())
        geladen = {{name.partition(".")[0] for name in sys.modules}}
        print(*sorted(geladen & {{"alembic", "mako", "pygments"}}))
    """
    assert await _geladen_nach(skript) == ""
    assert await ausstehende_migrationen(leere_engine) == []
    assert await _unterschiede(leere_engine) == []


async def test_scheitert_die_migration_im_eigenen_prozess_sagt_der_start_warum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Endet der Migrationsprozess mit Fehler, endet der Start mit Grund, nicht still."""
    monkeypatch.setattr(sys, "executable", "/bin/false")
    engine = erzeuge_engine(f"sqlite+aiosqlite:///{tmp_path / 'klimabot.db'}")
    try:
        with pytest.raises(RuntimeError, match=r"Migration der Datenbank gescheitert \(Exit"):
            await aktualisiere_schema_im_eigenen_prozess(engine)
    finally:
        await engine.dispose()


async def test_0007_uebernimmt_direktraeume_und_aufgegebene_nachrichten(
    leere_engine: AsyncEngine,
) -> None:
    """Vor 0007 standen Direkträume in `zustand`, und aufgegeben hieß „erledigt ohne Event-ID“."""
    async with leere_engine.begin() as verbindung:
        await verbindung.run_sync(lambda sync: command.upgrade(alembic_konfiguration(sync), "0006"))
        await verbindung.execute(
            text(
                "INSERT INTO zustand (schluessel, wert) VALUES"
                " ('direktraum:@anna:example.org', '!dm:example.org'),"
                " ('matrix.geraet', 'GERAET')"
            )
        )
        await verbindung.execute(
            text(
                "INSERT INTO ausgang (txn_id, raum_id, ereignistyp, inhalt, projekte, erstellt,"
                " versuche, letzter_fehler, event_id, gesendet_am) VALUES"
                " ('gesendet', '!r', 'm.room.message', '{}', '[]', :t, 1, NULL, '$e', :t),"
                " ('aufgegeben', '!r', 'm.room.message', '{}', '[]', :t, 8, 'verboten', NULL, :t),"
                " ('offen', '!r', 'm.room.message', '{}', '[]', :t, 0, NULL, NULL, NULL)"
            ),
            {"t": dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC).replace(tzinfo=None)},
        )

    await aktualisiere_schema(leere_engine)

    async with leere_engine.connect() as verbindung:
        direkt = (
            await verbindung.execute(
                text("SELECT matrix_id, raum_id, kennung, aufgegeben_am FROM direktraum")
            )
        ).all()
        zustand = (await verbindung.execute(text("SELECT schluessel FROM zustand"))).scalars()
        ausgang = (
            await verbindung.execute(
                text(
                    "SELECT txn_id, gesendet_am IS NULL, aufgegeben_am IS NULL FROM ausgang"
                    " ORDER BY id"
                )
            )
        ).all()
    ((person, raum, kennung, aufgegeben),) = direkt
    assert (person, raum, aufgegeben) == ("@anna:example.org", "!dm:example.org", None)
    assert len(kennung) >= 32
    assert list(zustand) == ["matrix.geraet"]
    assert [(t, bool(g), bool(a)) for t, g, a in ausgang] == [
        ("gesendet", False, True),
        ("aufgegeben", True, False),
        ("offen", True, True),
    ]


# Die Tabellen, wie Revision 0001 sie anlegte (nur die Spalten, die der Test füllt).
_FELD_0001 = sa.table(
    "themenfeld",
    sa.column("id", sa.Integer),
    sa.column("slug", sa.String),
    sa.column("name", sa.String),
    sa.column("aliase", sa.JSON),
    sa.column("ueberfaellig_nach_tagen", sa.Integer),
    sa.column("reihenfolge", sa.Integer),
    sa.column("archiviert", sa.Boolean),
)
_RAUM_0001 = sa.table(
    "raum",
    sa.column("id", sa.Integer),
    sa.column("adresse", sa.String),
    sa.column("raum_id", sa.String),
    sa.column("themenfeld_id", sa.Integer),
    sa.column("ist_stabsstelle", sa.Boolean),
)
_PERSON_0001 = sa.table(
    "person", sa.column("id", sa.Integer), sa.column("matrix_id"), sa.column("anzeigename")
)
_ROLLE_0001 = sa.table(
    "rollenzuweisung",
    sa.column("person_id", sa.Integer),
    sa.column("rolle", sa.String),
    sa.column("themenfeld_id", sa.Integer),
)
_PROJEKT_0001 = sa.table(
    "strategieprojekt",
    sa.column("id", sa.Integer),
    sa.column("slug", sa.String),
    sa.column("themenfeld_id", sa.Integer),
    sa.column("titel", sa.String),
    sa.column("beschreibung", sa.Text),
    sa.column("aliase", sa.JSON),
    sa.column("reihenfolge", sa.Integer),
    sa.column("archiviert", sa.Boolean),
)
_MELDUNG_0001 = sa.table(
    "statusmeldung",
    sa.column("projekt_id", sa.Integer),
    sa.column("autor_id", sa.Integer),
    sa.column("zeitpunkt", UTCZeit()),
    sa.column("ampel", sa.String),
    sa.column("fortschritt", sa.Integer),
    sa.column("text", sa.Text),
    sa.column("quelle", sa.String),
    sa.column("event_id", sa.String),
    sa.column("raum_id", sa.String),
    sa.column("zurueckgezogen", sa.Boolean),
)
_RAUM_ALT = "!energie:alt.example.org"


async def test_datenbank_aus_erster_revision_wird_migriert_und_der_bot_arbeitet_darauf(
    leere_engine: AsyncEngine,
) -> None:
    """Der Upgrade-Pfad: eine Datenbank der ersten Fassung (0001) mit Struktur und Meldung;
    der Start migriert sie bis zum neuesten Stand, und der Bot zeigt und nimmt Meldungen an."""
    async with leere_engine.begin() as verbindung:
        await verbindung.run_sync(lambda sync: command.upgrade(alembic_konfiguration(sync), "0001"))
        await verbindung.execute(
            sa.insert(_FELD_0001),
            [
                {
                    "id": 1,
                    "slug": "energie",
                    "name": "Energie",
                    "aliase": ["strom"],
                    "ueberfaellig_nach_tagen": 14,
                    "reihenfolge": 0,
                    "archiviert": False,
                }
            ],
        )
        await verbindung.execute(
            sa.insert(_RAUM_0001),
            [
                {
                    "id": 1,
                    "adresse": _RAUM_ALT,
                    "raum_id": _RAUM_ALT,
                    "themenfeld_id": 1,
                    "ist_stabsstelle": False,
                }
            ],
        )
        await verbindung.execute(
            sa.insert(_PERSON_0001),
            [{"id": 1, "matrix_id": PATIN_ENERGIE, "anzeigename": "Dr. Anna Becker"}],
        )
        await verbindung.execute(
            sa.insert(_ROLLE_0001), [{"person_id": 1, "rolle": "patin", "themenfeld_id": 1}]
        )
        await verbindung.execute(
            sa.insert(_PROJEKT_0001),
            [
                {
                    "id": 1,
                    "slug": "waermeplanung",
                    "themenfeld_id": 1,
                    "titel": "Kommunale Wärmeplanung",
                    "beschreibung": "",
                    "aliase": [],
                    "reihenfolge": 0,
                    "archiviert": False,
                }
            ],
        )
        await verbindung.execute(
            sa.insert(_MELDUNG_0001),
            [
                {
                    "projekt_id": 1,
                    "autor_id": 1,
                    "zeitpunkt": dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC),
                    "ampel": "gelb",
                    "fortschritt": 40,
                    "text": "Ausschreibung läuft",
                    "quelle": "befehl",
                    "event_id": "$alt",
                    "raum_id": _RAUM_ALT,
                    "zurueckgezogen": False,
                }
            ],
        )

    await aktualisiere_schema(leere_engine)  # wie `klimabot run` beim Start

    assert await ausstehende_migrationen(leere_engine) == []
    assert await _unterschiede(leere_engine) == []
    bot = Testbot(erzeuge_sitzungsfabrik(leere_engine))
    stand = await bot.sende("!status waermeplanung", als=PATIN_ENERGIE, raum=_RAUM_ALT)
    assert "Ausschreibung läuft" in stand.text
    assert "40 %" in stand.text
    meldung = await bot.sende(
        "!meldung waermeplanung grün 60% Vergabe erteilt", als=PATIN_ENERGIE, raum=_RAUM_ALT
    )
    assert meldung.reaktionen == ["✅"]
    verlauf = await bot.sende("!verlauf waermeplanung", als=PATIN_ENERGIE, raum=_RAUM_ALT)
    assert "Vergabe erteilt" in verlauf.text
    assert "Ausschreibung läuft" in verlauf.text
