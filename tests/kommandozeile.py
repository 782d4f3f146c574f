"""Der Befehl `klimabot` als eigener Prozess, wie die Stabsstelle ihn in einer Shell aufruft."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

KLIMABOT = Path(sys.executable).parent / "klimabot"


def ohne_klimabot_umgebung() -> dict[str, str]:
    """Die Umgebung des Testlaufs ohne seine `KLIMABOT_*`-Variablen: ein Prozess des Bots liest
    dann nur, was der Test ihm gibt."""
    return {k: v for k, v in os.environ.items() if not k.startswith("KLIMABOT_")}


def klimabot(*argumente: str, ordner: Path, **umgebung: str) -> subprocess.CompletedProcess[str]:
    """Ruft `klimabot` in `ordner` auf, ohne die `KLIMABOT_*`-Variablen des Testlaufs.

    `umgebung` setzt eigene Variablen; die umask ist die übliche 022, unter der neue Dateien
    für alle lesbar wären, wenn der Bot nichts dagegen täte.
    """
    alles = ohne_klimabot_umgebung() | umgebung
    return subprocess.run(
        [str(KLIMABOT), *argumente],
        cwd=ordner,
        env=alles,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        umask=0o022,
    )


def systemd_analyze(*argumente: str) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze` mit `argumente`, wie eine Administratorin es aufruft (`verify`,
    `security`); die Maschine hat es, CI auch."""
    programm = shutil.which("systemd-analyze")
    assert programm is not None, "systemd-analyze fehlt (Debian: apt-get install systemd)"
    return subprocess.run(
        [programm, *argumente], capture_output=True, text=True, timeout=60, check=False
    )
