"""Genau eine aktive Instanz je Bot-Konto, weitere warten in Bereitschaft.

Die Sperre hängt am Konto und an der Datenbank, nicht am Rechner: auf PostgreSQL eine
Advisory-Sperre der Sitzung (auf einer eigenen Verbindung, Schlüssel aus der Matrix-ID des
Bots), auf SQLite eine exklusive Dateisperre (`flock`) auf einer Datei neben der Datenbank.
Beide gibt das System frei, wenn der Prozess stirbt – auch bei SIGKILL: PostgreSQL beendet die
Sitzung, sobald die Verbindung abreißt, der Kern löst die Dateisperre beim Schließen.

Wer die Sperre nicht bekommt, versucht es etwa jede Sekunde wieder und tut bis dahin nichts,
was mit der aktiven Instanz zusammenstoßen könnte (kein Sync, kein Senden, kein Zeitplan).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from modelle.datenbank import kurzer_grund, sqlite_datei

log = logging.getLogger(__name__)

ABSTAND_S = 1.0  # so oft versucht eine Bereitschaft die Sperre
PRUEFABSTAND_S = 1.0  # so oft prüft die aktive Instanz, ob sie die Sperre noch hält
PRUEFGEDULD_S = 3.0  # so lange darf diese Prüfung dauern, dann gilt die Sperre als verloren
# So lange wartet eine Bereitschaft nach dem Erhalt der Sperre, bevor sie etwas tut.
UEBERGABE_S = 2 * PRUEFABSTAND_S
SERVER_KEEPALIVE = {
    "tcp_keepalives_idle": "5",
    "tcp_keepalives_interval": "1",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": "8000",
}
ANWENDUNG = "klimabot "  # application_name der Sperrverbindung, dahinter der Name der Instanz


class AndereInstanzAktiv(Exception):
    """Eine andere Instanz hält die Sperre, und diese soll nicht in Bereitschaft warten."""


class SperreVerloren(RuntimeError):
    """Die aktive Instanz hält die Sperre nicht mehr (Verbindung zur Datenbank abgerissen,
    Sperrdatei entfernt). Sie muss sofort aufhören: eine Bereitschaft übernimmt gleich."""


class Instanzsperre(Protocol):
    beschreibung: str

    async def versuche(self) -> bool:
        """Nimmt die Sperre, wenn sie frei ist; `False`, wenn eine andere Instanz sie hält."""
        ...

    async def pruefe(self) -> None:
        """Wirft `SperreVerloren`, wenn die gehaltene Sperre nicht mehr sicher gehalten ist."""
        ...

    async def freigeben(self) -> None: ...

    async def aktive_instanz(self) -> str | None:
        """Der Name der Instanz, die die Sperre hält (soweit zu erfahren)."""
        ...


def sperrschluessel(benutzer: str) -> int:
    """Der Schlüssel der Advisory-Sperre: 64 Bit aus der Matrix-ID des Bots."""
    digest = hashlib.sha256(f"klimabot-instanz {benutzer}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresSperre:
    """`pg_try_advisory_lock` auf einer eigenen Verbindung, die nur diese Sperre trägt."""

    def __init__(self, url: str, benutzer: str, instanz: str) -> None:
        self.schluessel = sperrschluessel(benutzer)
        self.beschreibung = f"PostgreSQL-Advisory-Sperre {self.schluessel}"
        # Eigene Engine ohne Pool: die Verbindung gehört allein der Sperre und lebt, solange
        # die Instanz aktiv ist. AUTOCOMMIT: sie soll nie „idle in transaction“ stehen.
        self._engine = create_async_engine(
            make_url(url),
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            hide_parameters=True,
            connect_args={
                "server_settings": {
                    "application_name": f"{ANWENDUNG}{instanz}"[:63],
                    # Fällt der Rechner der aktiven Instanz aus (oder das Netz dorthin), merkt
                    # der Server es sonst erst nach Stunden (TCP-Keepalive des Systems): so
                    # beendet er ihre Sitzung samt Sperre nach etwa 8 s.
                    **SERVER_KEEPALIVE,
                },
                "timeout": 10,
            },
        )
        self._verbindung: AsyncConnection | None = None
        self._gehalten = False

    async def versuche(self) -> bool:
        try:
            if self._verbindung is None:
                self._verbindung = await self._engine.connect()
            erhalten = await asyncio.wait_for(
                self._verbindung.scalar(
                    text("SELECT pg_try_advisory_lock(:schluessel)"),
                    {"schluessel": self.schluessel},
                ),
                timeout=PRUEFGEDULD_S,
            )
        except Exception as fehler:
            # Datenbank nicht erreichbar: weiter in Bereitschaft, beim nächsten Mal neu verbinden.
            log.warning(
                "Sperre nicht prüfbar, Datenbank nicht erreichbar (%s)", kurzer_grund(fehler)
            )
            await self._verwerfen()
            return False
        self._gehalten = bool(erhalten)
        return self._gehalten

    async def pruefe(self) -> None:
        if not self._gehalten or self._verbindung is None:
            raise SperreVerloren("Sperre nicht gehalten")
        try:
            await asyncio.wait_for(self._verbindung.scalar(text("SELECT 1")), PRUEFGEDULD_S)
        except Exception as fehler:
            # Mit der Sitzung endet auch die Sperre; eine Bereitschaft hat sie womöglich schon.
            self._gehalten = False
            await self._verwerfen()
            raise SperreVerloren(
                f"Verbindung der Sperre zur Datenbank abgerissen ({kurzer_grund(fehler)})"
            ) from fehler

    async def freigeben(self) -> None:
        self._gehalten = False
        await self._verwerfen()  # mit der Sitzung endet die Sperre
        await self._engine.dispose()

    async def aktive_instanz(self) -> str | None:
        # pg_locks zeigt einen 64-Bit-Schlüssel als zwei 32-Bit-Hälften.
        ohne_vorzeichen = self.schluessel & 0xFFFF_FFFF_FFFF_FFFF
        try:
            if self._verbindung is None:
                self._verbindung = await self._engine.connect()
            name = await self._verbindung.scalar(
                text(
                    "SELECT a.application_name FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                    "AND l.classid::bigint = :oben AND l.objid::bigint = :unten"
                ),
                {"oben": ohne_vorzeichen >> 32, "unten": ohne_vorzeichen & 0xFFFF_FFFF},
            )
        except Exception as fehler:
            log.warning("Aktive Instanz nicht zu erfahren (%s)", kurzer_grund(fehler))
            return None
        if isinstance(name, str) and name.startswith(ANWENDUNG):
            return name.removeprefix(ANWENDUNG) or None
        return None

    async def _verwerfen(self) -> None:
        verbindung, self._verbindung = self._verbindung, None
        if verbindung is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(verbindung.close(), timeout=PRUEFGEDULD_S)


class DateiSperre:
    """Eine exklusive `flock`-Sperre auf einer Datei neben der SQLite-Datenbank.

    `flock` (nicht `fcntl`-Satzsperren): sie gilt je geöffneter Datei, so sperren sich auch
    zwei Instanzen im selben Prozess gegenseitig aus, und sie endet mit dem Prozess.
    """

    def __init__(self, datei: Path, instanz: str) -> None:
        self.datei = datei
        self.beschreibung = f"Sperrdatei {datei}"
        self._instanz = instanz
        self._fd: int | None = None

    async def versuche(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.datei, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        # Wer gerade aktiv ist: für Menschen und für `aktive_instanz` der übrigen.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{self._instanz}\nPID {os.getpid()}\n".encode(), 0)
        self._fd = fd
        return True

    async def pruefe(self) -> None:
        if self._fd is None:
            raise SperreVerloren("Sperre nicht gehalten")
        try:
            gleich = os.stat(self.datei).st_ino == os.fstat(self._fd).st_ino
        except FileNotFoundError:
            gleich = False
        if not gleich:
            # Gelöscht oder ersetzt: eine zweite Instanz könnte die neue Datei sperren.
            raise SperreVerloren(f"Sperrdatei {self.datei} wurde entfernt oder ersetzt")

    async def freigeben(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    async def aktive_instanz(self) -> str | None:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            return self.datei.read_text(encoding="utf-8").partition("\n")[0].strip() or None
        return None


def sperrdatei(datenbank: Path) -> Path:
    """`klimabot.db` → `klimabot.db.sperre` (neben Datenbank und Schlüsselspeicher)."""
    datei = datenbank.absolute()
    return datei.with_name(f"{datei.name}.sperre")


def sperre_fuer(url: str, benutzer: str, instanz: str) -> Instanzsperre | None:
    """Die Sperre für diese Datenbank; `None` für eine SQLite-Datenbank nur im Speicher
    (die teilt ohnehin kein zweiter Prozess)."""
    if make_url(url).get_backend_name() == "postgresql":
        return PostgresSperre(url, benutzer, instanz)
    datei = sqlite_datei(url)
    if datei is None:
        return None
    return DateiSperre(sperrdatei(datei), instanz)


async def werde_aktiv(
    sperre: Instanzsperre,
    *,
    instanz: str,
    bereitschaft: bool,
    halt: asyncio.Event,
    abstand: float = ABSTAND_S,
    vorbereiten: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> float | None:
    """Wartet, bis diese Instanz die Sperre hält.

    Gibt zurück, wie lange die Sperre höchstens schon frei war, als diese Instanz sie nahm
    (0 ohne Warten; sonst die Zeit seit dem letzten vergeblichen Versuch), `None`, wenn
    `halt` vorher gesetzt wurde. Ohne `bereitschaft` wirft eine besetzte Sperre sofort
    `AndereInstanzAktiv`. `vorbereiten` läuft nebenher, solange diese Instanz in Bereitschaft
    wartet (die Anmeldung als eigenes Gerät und dessen Pflege), und wird abgebrochen, bevor
    sie übernimmt; scheitert es, wartet sie trotzdem weiter, mit `AndereInstanzAktiv` endet
    sie.
    """
    if await sperre.versuche():
        log.info("Instanz %s ist aktiv (%s)", instanz, sperre.beschreibung)
        return 0.0
    wer = await sperre.aktive_instanz()
    aktiv = f"Eine andere Instanz{f' ({wer})' if wer else ''} ist für dieses Bot-Konto aktiv"
    if wer == instanz:
        # Derselbe Name hieße dasselbe Gerät: zwei Prozesse mit einem Schlüsselspeicher.
        raise AndereInstanzAktiv(
            f"Instanz {instanz} ist schon aktiv ({sperre.beschreibung}). Eine zweite Instanz "
            "braucht einen eigenen Namen (klimabot run --instanz NAME oder instanz.name); "
            "sie ist dann ein eigenes Gerät des Bot-Kontos."
        )
    if not bereitschaft:
        raise AndereInstanzAktiv(
            f"{aktiv} ({sperre.beschreibung}). Diese Instanz ({instanz}) endet, statt in "
            "Bereitschaft zu warten (--einmalig bzw. instanz.bereitschaft = false)."
        )
    log.info(
        "%s; Instanz %s wartet in Bereitschaft und übernimmt, sobald die Sperre frei wird "
        "(%s, neuer Versuch etwa alle %s s)",
        aktiv,
        instanz,
        sperre.beschreibung,
        f"{abstand:g}",
    )
    dienst: asyncio.Task[None] | None = None
    if vorbereiten is not None:
        dienst = asyncio.create_task(vorbereiten(), name="bereitschaftsdienst")
        dienst.add_done_callback(_dienst_beendet)
    try:
        return await _warte_auf_sperre(sperre, instanz, halt, abstand, dienst)
    finally:
        if dienst is not None:
            dienst.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await dienst


def _dienst_beendet(dienst: asyncio.Task[None]) -> None:
    if dienst.cancelled():
        return
    fehler = dienst.exception()
    if fehler is not None and not isinstance(fehler, AndereInstanzAktiv):
        log.warning(
            "Bereitschaftsdienst gescheitert (%s); die Instanz wartet weiter in Bereitschaft",
            kurzer_grund(fehler),
        )


async def _warte_auf_sperre(
    sperre: Instanzsperre,
    instanz: str,
    halt: asyncio.Event,
    abstand: float,
    dienst: asyncio.Task[None] | None,
) -> float | None:
    beginn = time.monotonic()
    while not halt.is_set():
        vergeblich = time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(halt.wait(), timeout=abstand)
        if halt.is_set():
            break
        if dienst is not None and dienst.done() and not dienst.cancelled():
            fehler = dienst.exception()
            if isinstance(fehler, AndereInstanzAktiv):
                raise fehler
        if await sperre.versuche():
            frei_seit = time.monotonic() - vergeblich
            log.info(
                "Sperre frei: Instanz %s übernimmt nach %.1f s (nach %.0f s Bereitschaft)",
                instanz,
                frei_seit,
                time.monotonic() - beginn,
            )
            # Endete die Sperre, ohne dass die vorige Instanz starb (ihre Sitzung wurde
            # beendet), bemerkt sie das spätestens mit ihrer nächsten Prüfung und hält an.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(halt.wait(), timeout=UEBERGABE_S)
            return None if halt.is_set() else time.monotonic() - vergeblich
    return None


async def bewache(sperre: Instanzsperre, abstand: float = PRUEFABSTAND_S) -> None:
    """Prüft die gehaltene Sperre, bis sie verloren ist (dann `SperreVerloren`)."""
    while True:
        await asyncio.sleep(abstand)
        await sperre.pruefe()
