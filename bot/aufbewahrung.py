"""Aufräumen nach der Aufbewahrungsfrist (`bot.aufbewahrung_tage`), einmal am Tag zur stillen Zeit.

Was gelöscht wird und was bleibt, entscheidet `modelle.aufbewahrung`. Hier steht nur das Wann:
erst, wenn der erste Sync nach dem Start ganz behandelt ist. Stand der Bot länger still als die
Frist, liegen seine letzten Vermerke „behandelt“ vor ihr; sie sind die Marken, an denen das
Nachholen aufhört (`bot.sync`) und die Ereignisse kurz vor einem Absturz als erledigt erkennt.
Nach dem ersten Sync ist das Nachgeholte selbst vermerkt, die alten Marken braucht niemand mehr.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy.exc import InterfaceError, OperationalError

from modelle.aufbewahrung import Geraeumt, raeume_auf
from modelle.basis import jetzt as uhrzeit_jetzt
from modelle.datenbank import Sitzungsfabrik

log = logging.getLogger(__name__)

# Die stille Zeit (Ortszeit): nach Mitternacht, vor den Abfragen und Erinnerungen des Morgens.
STUNDE, MINUTE = 3, 30


class Aufbewahrung:
    def __init__(
        self,
        sitzungen: Sitzungsfabrik,
        *,
        tage: int,
        bereit: Callable[[], bool],
        uhr: Callable[[], dt.datetime] = uhrzeit_jetzt,
    ) -> None:
        self._sitzungen = sitzungen
        self._tage = tage
        self._bereit = bereit
        self._uhr = uhr

    async def raeume_auf(self) -> Geraeumt | None:
        """Eine Runde; None, wenn der erste Sync noch nicht behandelt ist (dann morgen)."""
        if not self._bereit():
            log.info("Aufräumen verschoben: der erste Sync nach dem Start ist noch nicht behandelt")
            return None
        async with self._sitzungen.begin() as sitzung:
            geraeumt = await raeume_auf(sitzung, jetzt=self._uhr(), tage=self._tage)
        log.info(
            "Aufgeräumt (älter als %d Tage): %d behandelte Ereignisse, %d erledigte Nachrichten",
            self._tage,
            geraeumt.ereignisse,
            geraeumt.nachrichten,
        )
        return geraeumt

    async def raeume_auf_sicher(self) -> None:
        """Für den Scheduler: ein Fehler wird protokolliert, morgen kommt die nächste Runde."""
        try:
            await self.raeume_auf()
        except (OperationalError, InterfaceError) as fehler:
            log.warning(
                "Aufräumen: Datenbank nicht erreichbar (%s); nächster Versuch morgen", fehler
            )
        except Exception:
            log.exception("Aufräumen fehlgeschlagen; nächster Versuch morgen")
