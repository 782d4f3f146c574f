"""Paketierungstest: das gebaute Wheel in einer frischen Umgebung ergibt einen `klimabot`, der
seine Fassung nennt, seine Migrationen mitbringt, eine Datenbank anlegt, eine Struktur übernimmt
und sie prüft – wie eine Administrator*in, ohne Matrix-Geheimnis in der Umgebung.

Gebaut wird aus einer Kopie der Quellen (das Wheel enthält nur, was `pyproject.toml` einpackt),
installiert ohne Abhängigkeiten; die Abhängigkeiten kommen aus der Umgebung der Tests (eine
`.pth`-Zeile), damit der Test nicht jedes Mal matplotlib & Co. herunterlädt. Dass
`pyproject.toml` sie vollständig nennt, prüft `make test` schon mit seiner Installation.
Der Bot selbst kommt nur aus dem Wheel: der Test sieht nach, woher `bot` geladen wurde.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
from pathlib import Path

import pytest

WURZEL = Path(__file__).resolve().parent.parent
QUELLEN = ("pyproject.toml", "README.md", "bot", "befehle", "modelle", "demo")

pytestmark = pytest.mark.paket


def _lauf(
    befehl: list[str], *, cwd: Path, umgebung: dict[str, str], zeit: float = 180
) -> subprocess.CompletedProcess[str]:
    lauf = subprocess.run(
        befehl, cwd=cwd, env=umgebung, capture_output=True, text=True, timeout=zeit, check=False
    )
    assert lauf.returncode == 0, f"{befehl}: {lauf.returncode}\n{lauf.stdout}\n{lauf.stderr}"
    return lauf


def _umgebung() -> dict[str, str]:
    """Ohne PYTHONPATH (der zeigte auf den Quellbaum) und ohne KLIMABOT_-Variablen der Shell."""
    return {
        k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("KLIMABOT_")
    }


def test_wheel_in_frischer_umgebung_ergibt_arbeitenden_klimabot(tmp_path: Path) -> None:
    quelle = tmp_path / "quelle"
    quelle.mkdir()
    for name in QUELLEN:
        pfad = WURZEL / name
        if pfad.is_dir():
            shutil.copytree(pfad, quelle / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(pfad, quelle / name)
    umgebung = _umgebung()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _lauf(
        [*pip, "wheel", "--no-deps", "-w", str(tmp_path / "dist"), str(quelle)],
        cwd=tmp_path,
        umgebung=umgebung,
    )
    (wheel,) = (tmp_path / "dist").glob("klimabot-*.whl")

    venv = tmp_path / "venv"
    _lauf(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path, umgebung=umgebung
    )
    python = venv / "bin" / "python"
    _lauf(
        [*pip, "--python", str(python), "install", "--no-deps", str(wheel)],
        cwd=tmp_path,
        umgebung=umgebung,
    )
    site = Path(
        _lauf(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            cwd=tmp_path,
            umgebung=umgebung,
        ).stdout.strip()
    )
    (site / "abhaengigkeiten.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    shutil.rmtree(quelle)  # nichts soll mehr aus den Quellen kommen können

    herkunft = _lauf(
        [str(python), "-c", "import bot, modelle.migration as m; print(bot.__file__, m.VERSIONEN)"],
        cwd=tmp_path,
        umgebung=umgebung,
    ).stdout
    assert all(Path(p).is_relative_to(site) for p in herkunft.split()), herkunft

    klimabot = str(venv / "bin" / "klimabot")
    fassung = tomllib.loads((WURZEL / "pyproject.toml").read_text())["project"]["version"]
    ausgabe = _lauf([klimabot, "--version"], cwd=tmp_path, umgebung=umgebung).stdout
    assert ausgabe.strip() == f"klimabot {fassung}"

    betrieb = tmp_path / "betrieb"
    betrieb.mkdir()
    shutil.copy2(WURZEL / "beispiele" / "muenster.toml", betrieb / "struktur.toml")
    konfiguration = betrieb / "config.toml"
    konfiguration.write_text(
        textwrap.dedent(
            f"""\
            [matrix]
            homeserver = "http://127.0.0.1:8008"
            benutzer = "@klimabot:stadt-muenster.de"
            einladungen_von = ["stadt-muenster.de"]

            [datenbank]
            url = "sqlite+aiosqlite:///{betrieb / "klimabot.db"}"

            [bot]
            stabsstelle_raum = "#klima-stabsstelle:stadt-muenster.de"
            strukturdatei = "struktur.toml"
            """
        ),
        encoding="utf-8",
    )
    _lauf(
        [klimabot, "db", "upgrade", "--config", str(konfiguration)],
        cwd=betrieb,
        umgebung=umgebung,
    )
    _lauf(
        [
            klimabot,
            "struktur",
            "import",
            str(betrieb / "struktur.toml"),
            "--config",
            str(konfiguration),
        ],
        cwd=betrieb,
        umgebung=umgebung,
    )
    pruefung = _lauf(
        [klimabot, "check", "--config", str(konfiguration)], cwd=betrieb, umgebung=umgebung
    )
    assert pruefung.stdout.strip() == "OK", pruefung.stdout + pruefung.stderr
