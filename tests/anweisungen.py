"""Der Zähler für SQL-Anweisungen in Tests: `modelle.datenbank.Anweisungen` mit Zusicherung.

Für Tests, die eine feste Zahl von Datenbankaufrufen zusichern („jede Abfrage ist genau
eine Anweisung“, „der Import braucht wenige“). Als Fixture `anweisungen` (conftest.py) oder
für einen Abschnitt mit `with mitgeschrieben(engine) as mitschrift:`.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from modelle import datenbank
from modelle.datenbank import mitgeschrieben

__all__ = ["Anweisungen", "mitgeschrieben"]

T = TypeVar("T")


class Anweisungen(datenbank.Anweisungen):
    async def genau_eine(self, abfrage: Awaitable[T]) -> T:
        """Wartet auf `abfrage` und sichert zu, dass sie genau eine Anweisung schickte."""
        vorher = len(self.gesendet)
        ergebnis = await abfrage
        neu = self.gesendet[vorher:]
        assert len(neu) == 1, neu
        return ergebnis
