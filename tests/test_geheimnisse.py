"""Geheimnisse ruhen verschlüsselt, Dateien sind nur für den Bot, und das Protokoll schweigt.

Gegen Synapse (ganzer Ablauf, jede Logzeile): tests/integration/test_geheimnisse.py.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from modelle.datenbank import erzeuge_engine, erzeuge_sitzungsfabrik
from modelle.migration import aktualisiere_schema
from modelle.tabellen import Zustand

KLIMABOT = Path(sys.executable).parent / "klimabot"
TOKEN = "syt_a2xpbWFib3Q_GeheimesZugangstoken_0xAb1"


def _rechte(pfad: Path) -> int:
    return stat.S_IMODE(pfad.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    """Die übliche umask, unter der SQLite und mkdir für alle lesbar anlegen."""
    vorher = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(vorher)


# --- Datenbank --------------------------------------------------------------------------------


async def test_fehler_einer_anweisung_zeigt_ihre_werte_nicht(engine: AsyncEngine) -> None:
    sitzungen = erzeuge_sitzungsfabrik(engine)
    async with sitzungen.begin() as sitzung:
        sitzung.add(Zustand(schluessel="matrix.zugangstoken", wert="alt"))
    with pytest.raises(IntegrityError) as fehler:
        async with sitzungen.begin() as sitzung:
            sitzung.add(Zustand(schluessel="matrix.zugangstoken", wert=TOKEN))
    assert "zustand" in str(fehler.value)  # die Anweisung selbst bleibt sichtbar
    assert TOKEN not in str(fehler.value)


async def test_neue_sqlite_datei_samt_wal_nur_fuer_den_bot(tmp_path: Path, umask_022: None) -> None:
    datei = tmp_path / "neu" / "klimabot.db"
    datei.parent.mkdir()
    engine = erzeuge_engine(f"sqlite+aiosqlite:///{datei}")
    try:
        await aktualisiere_schema(engine)
        async with engine.connect() as verbindung:
            await verbindung.execute(text("SELECT 1"))
            rechte = {p.name: oct(_rechte(p)) for p in datei.parent.iterdir()}
    finally:
        await engine.dispose()
    assert rechte == {f"klimabot.db{e}": "0o600" for e in ("", "-wal", "-shm")}


def _klimabot(*argumente: str, ordner: Path, **umgebung: str) -> subprocess.CompletedProcess[str]:
    alles = {k: v for k, v in os.environ.items() if not k.startswith("KLIMABOT_")} | umgebung
    return subprocess.run(
        [str(KLIMABOT), *argumente],
        cwd=ordner,
        env=alles,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        umask=0o022,
    )


def test_db_upgrade_legt_die_datenbank_nur_fuer_den_bot_an(tmp_path: Path) -> None:
    (tmp_path / "daten").mkdir()
    ergebnis = _klimabot(
        "db",
        "upgrade",
        ordner=tmp_path,
        KLIMABOT_DATENBANK__URL=f"sqlite+aiosqlite:///{tmp_path / 'daten' / 'klimabot.db'}",
    )
    assert ergebnis.returncode == 0, ergebnis.stderr
    assert _rechte(tmp_path / "daten" / "klimabot.db") == 0o600
