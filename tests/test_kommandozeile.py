"""Die Kommandozeile in der Shell der Verwaltung: ohne Matrix-Geheimnis, auf Deutsch, mit Version.

Die Geheimnisse des Bots stehen, wie das README rät, in der Umgebung des Dienstes – nicht in
der Shell der Person, die `struktur import` oder `bericht` aufruft.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import itertools
import json
import re
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

from bot.cli import main
from bot.deutscher_parser import KATALOG, KATALOG_MIT_ANZAHL
from tests.kommandozeile import KLIMABOT, klimabot, ohne_klimabot_umgebung

WURZEL = Path(__file__).resolve().parent.parent


@pytest.fixture
def verwaltung(tmp_path: Path) -> Path:
    """Die Beispielkonfiguration, wie sie eine neue Installation übernimmt, mit eigener SQLite."""
    text = (WURZEL / "config.example.toml").read_text(encoding="utf-8")
    vorher = 'url = "sqlite+aiosqlite:///klimabot.db"'
    assert vorher in text
    text = text.replace(vorher, f'url = "sqlite+aiosqlite:///{tmp_path / "daten" / "bot.db"}"')
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    (tmp_path / "daten").mkdir()
    (tmp_path / "beispiele").mkdir()
    (tmp_path / "beispiele" / "muenster.toml").write_bytes(
        (WURZEL / "beispiele" / "muenster.toml").read_bytes()
    )
    return tmp_path


def test_verwaltungsbefehle_brauchen_kein_matrix_geheimnis(verwaltung: Path) -> None:
    def aufruf(*argumente: str) -> str:
        # tests/kommandozeile.py gibt dem Prozess keine KLIMABOT_*-Variablen mit.
        ergebnis = klimabot(*argumente, "--config", "config.toml", ordner=verwaltung)
        assert ergebnis.returncode == 0, (argumente, ergebnis.stderr)
        assert "passwort" not in ergebnis.stderr, (argumente, ergebnis.stderr)
        return ergebnis.stdout

    assert aufruf("db", "upgrade").strip() == "Datenbank ist auf dem neuesten Stand."
    assert "7 Themenfelder angelegt" in aufruf("struktur", "import", "beispiele/muenster.toml")
    assert '[[themenfeld]]\nslug = "energie"' in aufruf("struktur", "export")
    assert "23 Projekte in 7 Themenfeldern" in aufruf("bericht")
    assert len(json.loads(aufruf("export", "--format", "json"))["meldungen"]) == 15
    assert "Sicherung geschrieben" in aufruf("sicherung", "sicherung.tar.gz")

    check = klimabot("check", "--config", "config.toml", ordner=verwaltung)
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == "OK"
    warnungen = check.stderr.splitlines()
    assert len(warnungen) == 2, check.stderr
    assert warnungen[0].startswith("Warnung: matrix: passwort oder zugangstoken fehlt")
    assert warnungen[1].startswith("Warnung: matrix: schluesselpasswort fehlt")
    assert all("braucht nur klimabot run" in w for w in warnungen)


def test_check_fuer_run_und_run_verlangen_das_geheimnis(verwaltung: Path) -> None:
    streng = klimabot("check", "--fuer-run", "--config", "config.toml", ordner=verwaltung)
    assert streng.returncode == 2
    assert "matrix: passwort oder zugangstoken fehlt" in streng.stderr
    assert "OK" not in streng.stdout

    run = klimabot("run", "--config", "config.toml", ordner=verwaltung)
    assert run.returncode == 2
    assert run.stderr.splitlines()[0].startswith("matrix: passwort oder zugangstoken fehlt")
    assert "matrix: schluesselpasswort fehlt" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (verwaltung / "daten" / "bot.db").exists()  # gescheitert, bevor etwas lief

    mit_geheimnis = klimabot(
        "check",
        "--fuer-run",
        "--config",
        "config.toml",
        ordner=verwaltung,
        KLIMABOT_MATRIX__PASSWORT="aus-der-umgebungsdatei",
        KLIMABOT_MATRIX__SCHLUESSELPASSWORT="auch-von-dort",
    )
    assert mit_geheimnis.returncode == 0, mit_geheimnis.stderr
    assert mit_geheimnis.stdout.strip() == "OK"
    assert "Warnung" not in mit_geheimnis.stderr


def test_version_aus_dem_installierten_paket(tmp_path: Path) -> None:
    ergebnis = klimabot("--version", ordner=tmp_path)
    assert ergebnis.returncode == 0, ergebnis.stderr
    assert ergebnis.stdout == f"klimabot {version('klimabot')}\n"


# Was argparse von sich aus sagen würde; nichts davon darf die Verwaltung zu sehen bekommen.
ENGLISCH = (
    "usage",
    "error",
    "required",
    "invalid",
    "choose from",
    "options:",
    "positional arguments",
    "show this help",
    "unrecognized",
    "expected",
    "argument ",
)


@pytest.mark.parametrize(
    ("argumente", "code", "erwartet"),
    [
        pytest.param([], 2, "klimabot: Fehler: es fehlt: BEFEHL", id="ohne-befehl"),
        pytest.param(
            ["strucktur"],
            2,
            "klimabot: Fehler: BEFEHL: „strucktur“ gibt es nicht (möglich: 'check', 'run'",
            id="unbekannter-befehl",
        ),
        pytest.param(
            ["struktur"], 2, "klimabot struktur: Fehler: es fehlt: BEFEHL", id="ohne-unterbefehl"
        ),
        pytest.param(
            ["struktur", "import"],
            2,
            "klimabot struktur import: Fehler: es fehlt: DATEI",
            id="datei",
        ),
        pytest.param(
            ["export", "--format", "xml"],
            2,
            "klimabot export: Fehler: --format: „xml“ gibt es nicht (möglich: 'csv', 'json')",
            id="auswahl",
        ),
        pytest.param(
            ["bericht", "--seit"],
            2,
            "klimabot bericht: Fehler: --seit: erwartet einen Wert",
            id="wert",
        ),
        pytest.param(
            ["check", "--gibts-nicht"], 2, "unbekannte Angaben: --gibts-nicht", id="option"
        ),
        pytest.param(
            ["-h"], 0, "Optionen:\n  -h, --help  diese Hilfe zeigen und beenden", id="hilfe"
        ),
        pytest.param(["struktur", "import", "-h"], 0, "Argumente:\n  DATEI", id="hilfe-import"),
    ],
)
def test_kommandozeile_spricht_deutsch(
    capsys: pytest.CaptureFixture[str], argumente: list[str], code: int, erwartet: str
) -> None:
    with pytest.raises(SystemExit) as ende:
        main(argumente)
    assert ende.value.code == code
    ausgabe = capsys.readouterr()
    text = ausgabe.out + ausgabe.err
    assert text.startswith("Aufruf: klimabot")
    # Die Spalte der Hilfetexte richtet sich nach dem längsten Befehl (wiederherstellen).
    assert erwartet in re.sub(r"(?<=\S) {2,}", "  ", text)
    englisch = [wort for wort in ENGLISCH if wort in text.lower()]
    assert not englisch, text


def test_deutscher_katalog_kennt_jeden_text_von_argparse() -> None:
    """Jeder Text, den argparse dieser Python-Fassung nachschlägt, hat eine Übersetzung."""
    texte: set[str] = set()
    mit_anzahl: set[tuple[str, str]] = set()
    for knoten in ast.walk(ast.parse(inspect.getsource(argparse))):
        if not (isinstance(knoten, ast.Call) and isinstance(knoten.func, ast.Name)):
            continue
        konstanten = [
            a.value for a in knoten.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
        ]
        if knoten.func.id == "_" and konstanten:
            texte.add(konstanten[0])
        elif knoten.func.id == "ngettext":
            mit_anzahl.add((konstanten[0], konstanten[1]))
    assert "the following arguments are required: %s" in texte  # die Suche findet sie
    assert texte - KATALOG.keys() == set()
    assert mit_anzahl - KATALOG_MIT_ANZAHL.keys() == set()
    # Jede Übersetzung nimmt dieselben Platzhalter wie das Original.
    for englisch, deutsch in KATALOG.items():
        assert _platzhalter(englisch) == _platzhalter(deutsch), englisch


def _platzhalter(text: str) -> list[str]:
    return sorted(re.findall(r"%\((\w+)\)|%[rs]", text))


def test_readme_nennt_nur_was_die_kommandozeile_kennt(capsys: pytest.CaptureFixture[str]) -> None:
    """Jeder Aufruf im Abschnitt „Kommandozeile“ des README: Befehl und Optionen gibt es."""
    readme = (WURZEL / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Kommandozeile", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    aufrufe = [z.partition("#")[0].split() for z in block.splitlines()]
    aufrufe = [a for a in aufrufe if a and a[0] == "klimabot"]
    assert len(aufrufe) >= 8
    for aufruf in aufrufe:
        befehl = list(itertools.takewhile(lambda w: re.fullmatch(r"[a-z]+", w), aufruf[1:]))
        optionen = re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", " ".join(aufruf[1:]))
        with pytest.raises(SystemExit) as ende:
            main([*befehl, "--help"])
        assert ende.value.code == 0, aufruf
        hilfe = capsys.readouterr().out
        for option in optionen:
            assert f"{option} " in hilfe or f"{option}\n" in hilfe, (aufruf, option)


def test_abgebrochene_ausgabe_ohne_traceback(verwaltung: Path) -> None:
    # Wie `klimabot export --format csv | head -0`: der Leser ist weg, bevor geschrieben wird.
    prozess = subprocess.Popen(
        [str(KLIMABOT), "export", "--format", "csv", "--config", "config.toml"],
        cwd=verwaltung,
        env=ohne_klimabot_umgebung(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert prozess.stdout is not None
    prozess.stdout.close()
    _, fehler = prozess.communicate(timeout=60)
    assert prozess.returncode == 1
    assert fehler == ""
