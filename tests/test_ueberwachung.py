"""Die Sende-Aufgabe ist überwacht: stirbt sie, endet der Bot mit Grund, statt halb zu laufen."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from nio import AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import Klimabot, ZustellungAusgefallen
from bot.ausgang import NACHRICHT, einreihen
from bot.config import Einstellungen, MatrixEinstellungen
from bot.zusteller import Zusteller
from modelle.datenbank import Sitzungsfabrik
from tests.testbot import BOT, Rekorder


class StilleSyncschleife:
    """Statt der Sync-Schleife: liest nichts und läuft, bis sie angehalten wird."""

    def __init__(self) -> None:
        self.angehalten = asyncio.Event()

    async def laufen(self) -> None:
        await self.angehalten.wait()

    def anhalten(self) -> None:
        self.angehalten.set()


class StillerZeitplaner:
    def starte(self) -> None:
        pass

    def stoppe(self) -> None:
        pass


@dataclass
class ZweimalDieselbeId(Rekorder):
    """Gibt jedem Ereignis dieselbe Event-ID: das kann die Buchführung des Bots nicht
    auflösen (die Event-ID ist eindeutig) – ein Fehler im Programm, kein Fehler beim Senden."""

    ids: list[str] = field(default_factory=list)

    async def sende(
        self, raum_id: str, ereignistyp: str, inhalt: dict[str, Any], txn_id: str
    ) -> str:
        await super().sende(raum_id, ereignistyp, inhalt, txn_id)
        return "$immer-dieselbe"


async def test_stirbt_die_zustellung_haelt_der_bot_an_und_endet_mit_grund(
    sitzungen: Sitzungsfabrik, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    async with sitzungen.begin() as sitzung:
        einreihen(sitzung, "!raum:example.org", NACHRICHT, {"body": "erste"})
        einreihen(sitzung, "!raum:example.org", NACHRICHT, {"body": "zweite"})
    sync = StilleSyncschleife()
    matrix = MatrixEinstellungen.model_validate(
        {"homeserver": "http://127.0.0.1:9", "benutzer": BOT, "passwort": "x",
         "verschluesselung": False}
    )  # fmt: skip
    bot = Klimabot(
        einstellungen=Einstellungen(),
        matrix=matrix,
        engine=engine,
        sitzungen=sitzungen,
        client=AsyncClient(matrix.homeserver, BOT),
        zusteller=Zusteller(sitzungen, ZweimalDieselbeId()),
        sync=sync,  # type: ignore[arg-type]
        zeitplaner=StillerZeitplaner(),  # type: ignore[arg-type]
        raeume=None,  # type: ignore[arg-type]  # ohne Sync keine Raumverwaltung
    )
    with caplog.at_level(logging.INFO), pytest.raises(ZustellungAusgefallen):
        # `klimabot run` macht daraus Exit-Code 1 (bot.cli: unerwarteter Fehler).
        await asyncio.wait_for(bot.laufen(), timeout=10)
    # Die Sync-Schleife liest nichts mehr: kein Ereignis wird als behandelt vermerkt, dessen
    # Antwort niemand sendet.
    assert sync.angehalten.is_set()
    ausfall = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(ausfall) == 1
    assert "Zustellung ausgefallen (IntegrityError" in ausfall[0].getMessage()
    # Mit Traceback (das Protokoll schreibt ihn vorab geschwärzt hin, siehe bot.geheimnisse).
    assert "Traceback (most recent call last)" in (ausfall[0].exc_text or "")
    assert "Klimabot beendet" in caplog.text
