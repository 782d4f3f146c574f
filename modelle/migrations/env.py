"""Alembic-Umgebung. Läuft entweder mit einer übergebenen Verbindung (aus `modelle.migration`)
oder, für Entwickler*innen, mit `alembic -x url=… revision --autogenerate`."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import modelle.tabellen  # noqa: F401  (registriert die Tabellen in Basis.metadata)
from modelle.basis import Basis
from modelle.datenbank import erzeuge_engine

ziel = Basis.metadata


def _migriere(verbindung: Connection) -> None:
    context.configure(
        connection=verbindung,
        target_metadata=ziel,
        render_as_batch=verbindung.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _mit_eigener_engine(url: str) -> None:
    engine = erzeuge_engine(url)
    async with engine.begin() as verbindung:
        await verbindung.run_sync(_migriere)
    await engine.dispose()


verbindung = context.config.attributes.get("connection")
if verbindung is not None:
    _migriere(verbindung)
else:
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite+aiosqlite:///klimabot.db")
    asyncio.run(_mit_eigener_engine(url))
