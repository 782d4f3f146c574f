"""Die gemessenen Bots als eigene Prozesse: starten, beenden, Speicher ablesen."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from bench.echobot import BEREIT, TOKEN_VARIABLE
from demo.homeserver import Zugang

WURZEL = Path(__file__).resolve().parent.parent
KLIMABOT = Path(sys.executable).parent / "klimabot"
# Ist sie gesetzt, hängt sich py-spy an jeden gestarteten Klimabot und schreibt sein Profil
# (eingeklappte Stapel) nach `<Wert>.<Name>.<n>.txt`. Nur zum Profilieren (py-spy kostet selbst
# CPU auf denselben zwei Kernen): Latenz und CPU dieses Laufs gelten dann nicht.
PROFIL_VARIABLE = "BENCH_PYSPY"


def saubere_umgebung() -> dict[str, str]:
    """Die Umgebung ohne `KLIMABOT_…`: sonst überschriebe ein Testlauf die Konfiguration."""
    return {k: v for k, v in os.environ.items() if not k.startswith("KLIMABOT_")}


def speicher_kib(pid: int) -> dict[str, int]:
    """VmRSS (jetzt) und VmHWM (Höchststand) aus /proc, in KiB."""
    werte: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for zeile in status:
            schluessel, _, rest = zeile.partition(":")
            if schluessel in ("VmRSS", "VmHWM"):
                werte[schluessel] = int(rest.split()[0])
    return werte


def cpu_sekunden(pid: int) -> float:
    """Verbrauchte CPU-Zeit (Benutzer + System) des Prozesses."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        felder = stat.read().rpartition(")")[2].split()
    # Nach dem Namen: Feld 3 ist der Zustand; utime und stime sind die Felder 14 und 15.
    return (int(felder[11]) + int(felder[12])) / os.sysconf("SC_CLK_TCK")


def synapse_pid(verzeichnis: Path) -> int | None:
    """Die PID des Synapse, der in `verzeichnis` läuft (aus /proc, ohne in ihn hineinzugreifen)."""
    for eintrag in Path("/proc").iterdir():
        if not eintrag.name.isdigit():
            continue
        try:
            befehl = (eintrag / "cmdline").read_bytes()
            if b"synapse.app.homeserver" in befehl and Path(os.readlink(eintrag / "cwd")) == (
                verzeichnis.resolve()
            ):
                return int(eintrag.name)
        except OSError:
            continue
    return None


class Prozess:
    """Ein Kindprozess mit Logdatei; `start()` gibt den Startzeitpunkt (perf_counter) zurück."""

    def __init__(
        self,
        name: str,
        befehl: list[str],
        logdatei: Path,
        *,
        umgebung: dict[str, str] | None = None,
        ausgabe_lesen: bool = False,
    ) -> None:
        self.name = name
        self.ausgabe_lesen = ausgabe_lesen
        self.befehl = befehl
        self.logdatei = logdatei
        self.umgebung = {**saubere_umgebung(), **(umgebung or {})}
        self.prozess: asyncio.subprocess.Process | None = None
        self.gestartet: float | None = None
        self.profil: str | None = None
        self._spion: asyncio.subprocess.Process | None = None
        self._starts = 0

    @property
    def pid(self) -> int:
        assert self.prozess is not None, f"{self.name} läuft nicht"
        return self.prozess.pid

    async def start(self) -> float:
        with self.logdatei.open("ab") as log:
            self.gestartet = time.perf_counter()
            self.prozess = await asyncio.create_subprocess_exec(
                *self.befehl,
                cwd=WURZEL,
                env=self.umgebung,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE if self.ausgabe_lesen else log,
                stderr=log,
            )
            if self.profil:
                self._starts += 1
                self._spion = await asyncio.create_subprocess_exec(
                    str(Path(sys.executable).parent / "py-spy"),
                    "record",
                    "--pid",
                    str(self.prozess.pid),
                    "--format",
                    "raw",
                    "--rate",
                    "200",
                    "--output",
                    f"{self.profil}.{self.name.replace(' ', '_')}.{self._starts}.txt",
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
        return self.gestartet

    async def warte_auf_ausgabe(self, zeile: str, frist: float = 60) -> float:
        """Wartet, bis der Prozess `zeile` auf stdout schreibt; gibt den Zeitpunkt zurück."""
        assert self.prozess is not None
        assert self.prozess.stdout is not None
        async with asyncio.timeout(frist):
            while True:
                gelesen = await self.prozess.stdout.readline()
                if not gelesen:
                    raise RuntimeError(f"{self.name} endete vorzeitig; siehe {self.logdatei}")
                if gelesen.decode().strip() == zeile:
                    return time.perf_counter()

    def speicher(self) -> dict[str, int]:
        return speicher_kib(self.pid)

    def cpu(self) -> float:
        return cpu_sekunden(self.pid)

    async def stop(self, frist: float = 30) -> None:
        spion, self._spion = self._spion, None
        if spion is not None and spion.returncode is None:
            spion.send_signal(signal.SIGINT)  # py-spy schreibt sein Profil und endet
            await spion.wait()
        prozess, self.prozess = self.prozess, None
        if prozess is None or prozess.returncode is not None:
            return
        prozess.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(frist):
                await prozess.wait()
        except TimeoutError:
            prozess.kill()
            await prozess.wait()
        if prozess.stdout is not None:
            with contextlib.suppress(Exception):
                await prozess.stdout.read()


def klimabot(config: Path, logdatei: Path, name: str = "Klimabot") -> Prozess:
    prozess = Prozess(name, [str(KLIMABOT), "run", "--config", str(config)], logdatei)
    prozess.profil = os.environ.get(PROFIL_VARIABLE)
    return prozess


def echobot(url: str, zugang: Zugang, logdatei: Path, speicher: Path | None = None) -> Prozess:
    befehl = [
        sys.executable,
        "-m",
        "bench.echobot",
        "--homeserver",
        url,
        "--benutzer",
        zugang.user_id,
        "--geraet",
        zugang.device_id,
    ]
    if speicher is not None:
        befehl += ["--speicher", str(speicher)]
    name = "Echo-Bot (verschlüsselt)" if speicher is not None else "Echo-Bot"
    return Prozess(
        name,
        befehl,
        logdatei,
        umgebung={TOKEN_VARIABLE: zugang.access_token},
        ausgabe_lesen=True,
    )


async def echobot_bereit(prozess: Prozess) -> float:
    return await prozess.warte_auf_ausgabe(BEREIT)
