"""Ein kleiner Ampelverlauf (12 Wochen, ein Themenfeld) für die Tests des Ampeldiagramms.

Ein eigenes Modul, weil auch ein frischer Interpreter ihn lädt (der Zeichentest ohne
Matplotlib im Bot-Prozess).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from modelle.berichtsdaten import Ampelverlauf, Ampelzaehlung, Feldverlauf
from modelle.werte import Ampel

BERLIN = ZoneInfo("Europe/Berlin")


def beispielverlauf(gruen: Any = 3) -> Ampelverlauf:
    """Zwölf Freitage bis zum 27.11.2026; `gruen` ist die Zahl grüner Projekte (auch Unsinn,
    damit das Zeichnen scheitert)."""
    stichtage = tuple(
        dt.datetime(2026, 11, 27, 14, tzinfo=BERLIN) - dt.timedelta(weeks=k)
        for k in reversed(range(12))
    )
    zaehlung = Ampelzaehlung(ampeln={a: 1 for a in Ampel} | {Ampel.GRUEN: gruen}, ohne_meldung=2)
    feld = Feldverlauf("energie", "Energie", (zaehlung,) * len(stichtage))
    return Ampelverlauf(stichtage, (feld,))
