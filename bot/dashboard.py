"""Der laufende Bot hält das Klimadashboard aktuell (`[dashboard] ordner`, Zeitplan).

Geschrieben wird in einem kurzen, eigenen Prozess (`python -I -m bot.dashboard`, siehe
`_haupt` unten, gestartet über `modelle.kindprozess`): matplotlib und Jinja2 kosteten den Bot
sonst dauerhaft Speicher, und das Zeichnen hielte die Ereignisschleife auf. Ein Fehler dabei
landet im Protokoll und hält sonst nichts an.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from bot.config import DashboardEinstellungen
from modelle.kindprozess import python_modul
from modelle.zeitplan import Zeitplan

log = logging.getLogger(__name__)

# Start, Abfragen, Zeichnen: wenige Sekunden; auf einer ausgelasteten Maschine mehr.
ZEITLIMIT_S = 120.0


class Dashboardschreiber:
    """Schreibt das Klimadashboard nach `[dashboard]`; nur gebaut, wenn `ordner` gesetzt ist."""

    def __init__(
        self, einstellungen: DashboardEinstellungen, datenbank_url: str, zeitzone: str
    ) -> None:
        if einstellungen.ordner is None:
            raise ValueError("[dashboard] ordner fehlt")
        self._ordner = einstellungen.ordner
        self._einstellungen = einstellungen
        self._url = datenbank_url
        self._zeitzone = zeitzone

    @property
    def zeitplan(self) -> Zeitplan:
        return Zeitplan.aus_text(self._einstellungen.zeitplan)

    async def schreibe_sicher(self) -> bool:
        """Schreibt das Dashboard; `False` (und ein Eintrag im Protokoll), wenn es scheitert."""
        argumente = ["--ausgabe", str(self._ordner), "--zeitzone", self._zeitzone]
        argumente += ["--wochen", str(self._einstellungen.wochen)]
        if self._einstellungen.intern:
            argumente.append("--intern")
        try:
            code, grund = await python_modul(
                "bot.dashboard", *argumente, eingabe=self._url.encode(), zeitlimit_s=ZEITLIMIT_S
            )
        except TimeoutError:
            log.error("Klimadashboard nicht geschrieben: nach %.0f s abgebrochen", ZEITLIMIT_S)
            return False
        if code != 0:
            log.error("Klimadashboard nicht geschrieben (Exit-Code %s): %s", code, grund)
            return False
        log.info("Klimadashboard geschrieben: %s", self._ordner / "index.html")
        return True


def _haupt() -> None:
    """`python -I -m bot.dashboard`: der kurze Prozess, in dem der laufende Bot sein Dashboard
    schreibt. Die Adresse der Datenbank kommt über die Standardeingabe (mit Passwort: nicht in
    die Befehlszeile, die jeder Nutzer des Rechners sieht)."""
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from befehle.dashboardseite import schreibe_aus
    from bot.deutscher_parser import DeutscherParser
    from modelle.datenbank import erzeuge_engine, erzeuge_sitzungsfabrik

    parser = DeutscherParser(
        prog="python -m bot.dashboard",
        description="Schreibt das Klimadashboard des laufenden Bots (Datenbank über stdin).",
    )
    parser.add_argument("--ausgabe", type=Path, required=True, metavar="ORDNER", help="Zielordner")
    parser.add_argument("--zeitzone", required=True, help="z. B. Europe/Berlin")
    parser.add_argument("--wochen", type=int, required=True, help="Wochen im Verlauf")
    parser.add_argument("--intern", action="store_true", help="interne Fassung")
    argumente = parser.parse_args()
    if argumente.wochen < 1:
        parser.error("--wochen: mindestens 1")

    async def schreiben(url: str) -> None:
        engine = erzeuge_engine(url)
        try:
            async with erzeuge_sitzungsfabrik(engine)() as sitzung:
                await schreibe_aus(
                    sitzung,
                    argumente.ausgabe,
                    zeitzone=ZoneInfo(argumente.zeitzone),
                    wochen=argumente.wochen,
                    intern=argumente.intern,
                )
        finally:
            await engine.dispose()

    asyncio.run(schreiben(sys.stdin.read().strip()))


if __name__ == "__main__":
    _haupt()
