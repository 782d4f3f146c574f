"""Alembic-Migrationen programmatisch anwenden und prüfen.

alembic wird erst geladen, wenn es etwas zu tun gibt: mit mako und pygments kostet es den
Prozess rund 10 MB, die er nicht mehr zurückgibt. Ob die Datenbank auf dem neuesten Stand
ist, liest `aktualisiere_schema` deshalb selbst – die neuesten Revisionen aus den
Migrationsdateien (ohne sie auszuführen), den Stand aus der Tabelle `alembic_version`.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from modelle.datenbank import sqlite_im_speicher
from modelle.kindprozess import python_modul

if TYPE_CHECKING:
    from alembic.config import Config

VERZEICHNIS = Path(__file__).parent / "migrations"
VERSIONEN = VERZEICHNIS / "versions"
# Name und Spalte der Versionstabelle, wie alembic sie ohne weitere Einstellung anlegt.
VERSIONSTABELLE = "alembic_version"

_UNBEKANNT = object()


def alembic_konfiguration(verbindung: Connection | None = None) -> Config:
    from alembic.config import Config

    konfiguration = Config()
    konfiguration.set_main_option("script_location", str(VERZEICHNIS))
    if verbindung is not None:
        konfiguration.attributes["connection"] = verbindung
    return konfiguration


def _zuweisungen(datei: Path) -> dict[str, object]:
    """Was `datei` auf oberster Ebene Namen zuweist: Literale als Wert, sonst `_UNBEKANNT`."""
    werte: dict[str, object] = {}
    try:
        baum = ast.parse(datei.read_bytes(), str(datei))
    except (SyntaxError, ValueError):
        return werte  # ohne `revision`: alembic entscheidet und meldet den Fehler selbst
    for knoten in baum.body:
        ziele: list[ast.expr]
        if isinstance(knoten, ast.AnnAssign) and knoten.value is not None:
            ziele, wert = [knoten.target], knoten.value
        elif isinstance(knoten, ast.Assign):
            ziele, wert = knoten.targets, knoten.value
        else:
            continue
        for ziel in ziele:
            if isinstance(ziel, ast.Name):
                try:
                    werte[ziel.id] = ast.literal_eval(wert)
                except (ValueError, TypeError):
                    werte[ziel.id] = _UNBEKANNT
    return werte


def neueste_revisionen(versionen: Path = VERSIONEN) -> frozenset[str] | None:
    """Die Köpfe („head“) der Migrationen in `versionen`, gelesen ohne alembic.

    None, wenn eine Datei mehr verlangt als eine einfache Kette (oder Verzweigung) aus
    literalen Revisionsnummern, etwa `branch_labels` oder `depends_on`: dann entscheidet
    alembic selbst.
    """
    revisionen: set[str] = set()
    vorgaenger: set[str] = set()
    # Dieselbe Auswahl wie alembic: *.py im Verzeichnis selbst, ohne __init__ und .#-Dateien.
    for datei in versionen.glob("*.py"):
        if datei.name.startswith(("__init__", ".#")):
            continue
        werte = _zuweisungen(datei)
        revision = werte.get("revision", _UNBEKANNT)
        vorher = werte.get("down_revision", _UNBEKANNT)
        if not isinstance(revision, str) or any(
            werte.get(name) is not None for name in ("branch_labels", "depends_on")
        ):
            return None
        if isinstance(vorher, str):
            vorgaenger.add(vorher)
        elif isinstance(vorher, tuple | list) and all(isinstance(v, str) for v in vorher):
            vorgaenger.update(vorher)
        elif vorher is not None:
            return None
        revisionen.add(revision)
    return frozenset(revisionen - vorgaenger) or None


def _stand(verbindung: Connection) -> frozenset[str]:
    """Die Revisionen in `alembic_version`; leer, wenn die Datenbank noch nie migriert wurde."""
    if not inspect(verbindung).has_table(VERSIONSTABELLE):
        return frozenset()
    return frozenset(verbindung.scalars(text(f"SELECT version_num FROM {VERSIONSTABELLE}")))


def _aktuell(verbindung: Connection) -> bool:
    """Steht die Datenbank schon auf den neuesten Revisionen?"""
    neueste = neueste_revisionen()
    return neueste is not None and _stand(verbindung) == neueste


def _aktualisiere(verbindung: Connection) -> None:
    if _aktuell(verbindung):
        return
    from alembic import command

    command.upgrade(alembic_konfiguration(verbindung), "head")


async def aktualisiere_schema(engine: AsyncEngine) -> None:
    """Wendet alle ausstehenden Migrationen an (`klimabot db upgrade`, Start des Bots)."""
    async with engine.begin() as verbindung:
        await verbindung.run_sync(_aktualisiere)


async def aktualisiere_schema_im_eigenen_prozess(engine: AsyncEngine) -> None:
    """Wie `aktualisiere_schema`, aber alembic läuft – wenn es etwas zu tun gibt – in einem
    eigenen, kurzen Python-Prozess (`python -m modelle.migration --hochziehen`).

    Für den Start des Bots: Einmal geladen, gibt ein Prozess die rund 10 MB von alembic, mako
    und pygments nicht mehr zurück; der Bot liefe nach jedem Update bis zum nächsten Neustart
    damit. Die Adresse der Datenbank (mit Passwort) geht über die Standardeingabe, nicht über
    die Befehlszeile, die jeder Nutzer des Rechners sieht. Eine SQLite-Datenbank nur im
    Speicher gibt es im anderen Prozess nicht: die wird hier migriert.
    """
    async with engine.connect() as verbindung:
        if await verbindung.run_sync(_aktuell):
            return
    if sqlite_im_speicher(engine.url):
        await aktualisiere_schema(engine)
        return
    code, grund = await python_modul(
        "modelle.migration",
        "--hochziehen",
        eingabe=engine.url.render_as_string(hide_password=False).encode(),
    )
    if code != 0:
        raise RuntimeError(f"Migration der Datenbank gescheitert (Exit-Code {code}): {grund}")


def _hochziehen(url: str) -> None:
    """`--hochziehen`: die Datenbank hinter `url` auf den neuesten Stand bringen."""
    from modelle.datenbank import erzeuge_engine

    async def migrieren() -> None:
        engine = erzeuge_engine(url)
        try:
            await aktualisiere_schema(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrieren())


async def ausstehende_migrationen(engine: AsyncEngine) -> list[str]:
    """Die Revisionen, die dieser Datenbank noch fehlen (älteste zuerst), laut alembic."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    def _fehlend(sync: Connection) -> list[str]:
        aktuell = MigrationContext.configure(sync).get_current_revision()
        skripte = ScriptDirectory.from_config(alembic_konfiguration())
        return [r.revision for r in reversed(list(skripte.iterate_revisions("head", aktuell)))]

    async with engine.connect() as verbindung:
        return await verbindung.run_sync(_fehlend)


def neue_revision(beschreibung: str, url: str) -> None:
    """Erzeugt eine Revision aus dem Unterschied Modelle ↔ migriertes Schema (`make migration`)."""
    from alembic import command

    _hochziehen(url)
    konfiguration = alembic_konfiguration()
    konfiguration.cmd_opts = argparse.Namespace(x=[f"url={url}"])
    nummer = len(list(VERSIONEN.glob("[0-9]*.py"))) + 1
    command.revision(konfiguration, message=beschreibung, autogenerate=True, rev_id=f"{nummer:04d}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description="Neue Alembic-Revision erzeugen (--neu, --url) oder die Datenbank, deren "
        "Adresse auf der Standardeingabe steht, auf den neuesten Stand bringen (--hochziehen)"
    )
    parser.add_argument("--neu", metavar="BESCHREIBUNG")
    parser.add_argument("--url")
    parser.add_argument("--hochziehen", action="store_true")
    argumente = parser.parse_args()
    if argumente.hochziehen:
        _hochziehen(sys.stdin.read().strip())
    elif argumente.neu and argumente.url:
        neue_revision(argumente.neu, argumente.url)
    else:
        parser.error("--neu und --url oder --hochziehen angeben")
