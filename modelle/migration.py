"""Alembic-Migrationen programmatisch anwenden und prüfen."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

VERZEICHNIS = Path(__file__).parent / "migrations"


def alembic_konfiguration(verbindung: Connection | None = None) -> Config:
    konfiguration = Config()
    konfiguration.set_main_option("script_location", str(VERZEICHNIS))
    if verbindung is not None:
        konfiguration.attributes["connection"] = verbindung
    return konfiguration


async def aktualisiere_schema(engine: AsyncEngine) -> None:
    """Wendet alle ausstehenden Migrationen an (`klimabot db upgrade`)."""
    async with engine.begin() as verbindung:
        await verbindung.run_sync(lambda sync: command.upgrade(alembic_konfiguration(sync), "head"))


async def ausstehende_migrationen(engine: AsyncEngine) -> list[str]:
    """Die Revisionen, die dieser Datenbank noch fehlen (älteste zuerst)."""

    def _fehlend(sync: Connection) -> list[str]:
        aktuell = MigrationContext.configure(sync).get_current_revision()
        skripte = ScriptDirectory.from_config(alembic_konfiguration())
        return [r.revision for r in reversed(list(skripte.iterate_revisions("head", aktuell)))]

    async with engine.connect() as verbindung:
        return await verbindung.run_sync(_fehlend)


def neue_revision(beschreibung: str, url: str) -> None:
    """Erzeugt eine Revision aus dem Unterschied Modelle ↔ migriertes Schema (`make migration`)."""
    from modelle.datenbank import erzeuge_engine

    async def migrieren() -> None:
        engine = erzeuge_engine(url)
        try:
            await aktualisiere_schema(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrieren())
    konfiguration = alembic_konfiguration()
    konfiguration.cmd_opts = argparse.Namespace(x=[f"url={url}"])
    nummer = len(list((VERZEICHNIS / "versions").glob("[0-9]*.py"))) + 1
    command.revision(konfiguration, message=beschreibung, autogenerate=True, rev_id=f"{nummer:04d}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Neue Alembic-Revision erzeugen")
    parser.add_argument("--neu", required=True, metavar="BESCHREIBUNG")
    parser.add_argument("--url", required=True)
    argumente = parser.parse_args()
    neue_revision(argumente.neu, argumente.url)
