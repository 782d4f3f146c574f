"""Das Ampeldiagramm entsteht in einem eigenen Prozess: der Bot lädt kein Matplotlib, und
scheitert das Zeichnen, geht der Wochenbericht ohne Bild hinaus."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from befehle.diagramm import DiagrammFehler, ampel_diagramm
from tests.ampelverlauf import beispielverlauf
from tests.testbot import STABSSTELLE, Testbot

WURZEL = Path(__file__).resolve().parent.parent


def _kind(monkeypatch: pytest.MonkeyPatch, programm: str) -> None:
    """Ersetzt den Zeichenprozess durch ein anderes Programm."""
    monkeypatch.setattr("befehle.diagramm.kindbefehl", lambda: [sys.executable, "-c", programm])


STIRBT = "import os; os._exit(3)"


def test_bot_prozess_laedt_beim_zeichnen_kein_matplotlib() -> None:
    # Ein frischer Interpreter wie der Bot: im Testprozess hat womöglich schon ein anderer
    # Test Matplotlib geladen.
    skript = (
        "import json, sys\n"
        "from befehle.diagramm import ampel_diagramm\n"
        "from tests.ampelverlauf import beispielverlauf\n"
        "png = ampel_diagramm(beispielverlauf())\n"
        "geladen = sorted(m for m in sys.modules if m.partition('.')[0] == 'matplotlib')\n"
        "print(json.dumps({'png': png[:8].hex(), 'geladen': geladen}))\n"
    )
    lauf = subprocess.run(
        [sys.executable, "-c", skript], cwd=WURZEL, capture_output=True, text=True, check=True
    )
    ergebnis = json.loads(lauf.stdout)
    assert bytes.fromhex(ergebnis["png"]) == b"\x89PNG\r\n\x1a\n"
    assert ergebnis["geladen"] == []


def test_fehler_beim_zeichnen_kommt_als_diagrammfehler_mit_grund() -> None:
    with pytest.raises(DiagrammFehler, match="TypeError"):
        ampel_diagramm(beispielverlauf(gruen="viele"))


def test_abgestuerzter_zeichenprozess_wird_diagrammfehler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _kind(monkeypatch, STIRBT)
    with pytest.raises(DiagrammFehler, match="Exitcode 3"):
        ampel_diagramm(beispielverlauf())


def test_haengender_zeichenprozess_wird_nach_dem_zeitlimit_beendet(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pid_datei = tmp_path / "pid"
    _kind(
        monkeypatch,
        f"import os, time; open({str(pid_datei)!r}, 'w').write(str(os.getpid())); time.sleep(120)",
    )
    beginn = time.monotonic()
    with pytest.raises(DiagrammFehler, match="nach 1 s nicht fertig"):
        ampel_diagramm(beispielverlauf(), zeitlimit_s=1)
    assert time.monotonic() - beginn < 5
    pid = int(pid_datei.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # beendet und eingesammelt


async def test_wochenbericht_geht_ohne_bild_hinaus_wenn_das_zeichnen_scheitert(
    testbot: Testbot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _kind(monkeypatch, STIRBT)
    with caplog.at_level(logging.ERROR, logger="befehle.bericht"):
        antwort = await testbot.sende("!bericht", als=STABSSTELLE)
    kopf, *thread = antwort.nachrichten
    assert "Wochenbericht" in kopf.text
    assert "Das Ampeldiagramm ließ sich diesmal nicht zeichnen." in kopf.text
    assert len(thread) == 7  # je Themenfeld eine Nachricht
    assert all(t.inhalt.get("msgtype") == "m.notice" for t in thread)
    assert testbot.rekorder.hochgeladen == []
    assert "Ampeldiagramm fehlt im Wochenbericht" in caplog.text
    assert "Exitcode 3" in caplog.text


def test_zeichenprozess_laedt_nichts_aus_dem_arbeitsverzeichnis(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Wer im Arbeitsverzeichnis des Bots Dateien ablegen kann, bringt damit keinen Code in den
    Zeichenprozess: weder ein eigenes `befehle.diagramm` noch ein eigenes `matplotlib`."""
    spur = tmp_path / "ausgefuehrt"
    schaden = f"open({str(spur)!r}, 'a').write(__name__ + '\\n')\n"
    (tmp_path / "befehle").mkdir()
    (tmp_path / "befehle" / "__init__.py").write_text(schaden, encoding="utf-8")
    (tmp_path / "befehle" / "diagramm.py").write_text(schaden, encoding="utf-8")
    (tmp_path / "matplotlib.py").write_text(schaden, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))

    assert ampel_diagramm(beispielverlauf()).startswith(b"\x89PNG")
    assert not spur.exists(), spur.read_text()
