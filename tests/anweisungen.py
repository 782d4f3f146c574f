"""Der eine Zähler für SQL-Anweisungen: was eine Engine wirklich an die Datenbank schickt.

Für Tests, die eine feste Zahl von Datenbankaufrufen zusichern („jede Abfrage ist genau
eine Anweisung“, „der Import braucht wenige“). Als Fixture `anweisungen` (conftest.py) oder
für einen Abschnitt mit `with mitgeschrieben(engine) as mitschrift:`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")

_EREIGNIS = "before_cursor_execute"


class Anweisungen:
    """Schreibt jede Anweisung mit, die über die Leitung geht, solange sie beobachtet."""

    def __init__(self) -> None:
        self.gesendet: list[str] = []

    def _mitschreiben(self, _verbindung: Any, _cursor: Any, anweisung: str, *_rest: Any) -> None:
        self.gesendet.append(anweisung)

    def beobachte(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, _EREIGNIS, self._mitschreiben)

    def beende(self, engine: AsyncEngine) -> None:
        event.remove(engine.sync_engine, _EREIGNIS, self._mitschreiben)

    @property
    def anzahl(self) -> int:
        return len(self.gesendet)

    async def genau_eine(self, abfrage: Awaitable[T]) -> T:
        """Wartet auf `abfrage` und sichert zu, dass sie genau eine Anweisung schickte."""
        vorher = len(self.gesendet)
        ergebnis = await abfrage
        neu = self.gesendet[vorher:]
        assert len(neu) == 1, neu
        return ergebnis


@contextmanager
def mitgeschrieben(engine: AsyncEngine) -> Iterator[Anweisungen]:
    """Schreibt die Anweisungen von `engine` mit, bis der Block endet."""
    mitschrift = Anweisungen()
    mitschrift.beobachte(engine)
    try:
        yield mitschrift
    finally:
        mitschrift.beende(engine)
