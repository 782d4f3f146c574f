"""Die Flut einer Person hält die Antworten für andere nicht auf (gegen Synapse).

Ohne Drossel behandelt der Bot jeden der 200 Befehle (eine Transaktion je Befehl) und sendet
200 Antworten, eine nach der anderen: Die Frage einer anderen Person wartet dahinter.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from bot.drossel import STOSS
from demo.mensch import Mensch, zitiert
from tests.integration.umgebung import Umgebung

FLUT = 200
# Der Flutende sendet je GLEICHZEITIG Befehle auf einmal – schneller, als der Bot sie beantworten
# könnte. Mehr nicht: Synapse reiht die Ereignisse eines Raums hintereinander, jede Antwort des Bots
# wartete sonst hinter der ganzen Flut, und gemessen würde nur der Homeserver.
GLEICHZEITIG = 5


async def _antwortzeit(mensch: Mensch, raum_id: str, bot_id: str) -> float:
    await mensch.synchronisiere(timeout_ms=0)
    beginn = time.monotonic()
    frage = await mensch.sende(raum_id, "!status energie")
    antwort = await mensch.antwort_auf(frage, von=bot_id, frist=60)
    dauer = time.monotonic() - beginn
    assert "Kommunale Wärmeplanung" in antwort["content"]["body"]
    return dauer


async def test_flut_einer_person_haelt_die_antwort_fuer_andere_nicht_auf(
    umgebung: Umgebung,
) -> None:
    raum, bot = umgebung.raum_energie, umgebung.bot_id
    normal = statistics.median(
        [await _antwortzeit(umgebung.koordination, raum, bot) for _ in range(3)]
    )

    flut: list[str] = []
    for _ in range(FLUT // GLEICHZEITIG):
        flut += await asyncio.gather(
            *(umgebung.aussen.sende(raum, "!status energie") for _ in range(GLEICHZEITIG))
        )
    nach_der_flut = await _antwortzeit(umgebung.koordination, raum, bot)
    assert nach_der_flut <= normal + 1.0, (normal, nach_der_flut)

    # Der Mensch holt nach, was ein abgeschnittener Sync nach der Flut ausließ (demo.luecke).
    await umgebung.koordination.ruhe(2)
    an_die_flut = [
        e
        for r, e in umgebung.koordination.gesehen
        if r == raum and e.get("sender") == bot and zitiert(e) in flut
    ]
    bremsen = [e for e in an_die_flut if e["content"]["body"].startswith("Bitte etwas langsamer")]
    assert len(bremsen) == 1
    # Der Stoß, dazu was während der Flut nachkam (eine Marke je Sekunde), und die Warnung; der
    # große Rest bleibt unbeantwortet.
    assert STOSS + 1 <= len(an_die_flut) < FLUT // 4, len(an_die_flut)
