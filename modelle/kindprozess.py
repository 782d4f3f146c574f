"""Ein kurzer Python-Prozess für Arbeit, die der Bot nicht dauerhaft im Speicher halten soll
(Migration mit alembic, Klimadashboard mit matplotlib und Jinja2).

Isoliert gestartet (`python -I -m MODUL`): Ohne `-I` stünde das Arbeitsverzeichnis vorn im
Suchpfad, und eine gleichnamige Datei dort liefe mit den Rechten des Bots – und bekäme die
Adresse der Datenbank. Die kommt über die Standardeingabe (mit Passwort: nicht in die
Befehlszeile, die jeder Nutzer des Rechners sieht).
"""

from __future__ import annotations

import asyncio
import sys


async def python_modul(
    modul: str, *argumente: str, eingabe: bytes, zeitlimit_s: float | None = None
) -> tuple[int, str]:
    """Startet `python -I -m modul argumente`, schreibt `eingabe` auf seine Standardeingabe und
    wartet; zurück kommen Exit-Code und die letzte Zeile der Fehlerausgabe (der Grund, wenn er
    scheiterte). Nach `zeitlimit_s` – oder wenn der Aufrufer abbricht – wird er beendet; das
    Zeitlimit endet mit `TimeoutError`."""
    prozess = await asyncio.create_subprocess_exec(
        sys.executable,
        "-I",
        "-m",
        modul,
        *argumente,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(zeitlimit_s):
            _, fehler = await prozess.communicate(eingabe)
    except BaseException:
        prozess.kill()
        await prozess.wait()
        raise
    zeilen = fehler.decode(errors="replace").strip().splitlines()
    assert prozess.returncode is not None  # nach communicate()
    return prozess.returncode, zeilen[-1] if zeilen else "ohne Ausgabe"
