"""Die Kommandozeile, wie die Stabsstelle sie benutzt."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from tests.kommandozeile import klimabot
from tests.strukturen import BEISPIEL


def test_import_export_reimport_ohne_konfiguration_auf_leerer_sqlite(tmp_path: Path) -> None:
    erst = klimabot("struktur", "import", str(BEISPIEL), ordner=tmp_path)
    assert erst.returncode == 0, erst.stderr
    assert "7 Themenfelder angelegt" in erst.stdout
    assert (tmp_path / "klimabot.db").exists()

    export = klimabot("struktur", "export", "-o", "export.toml", ordner=tmp_path)
    assert export.returncode == 0, export.stderr

    wieder = klimabot("struktur", "import", "export.toml", ordner=tmp_path)
    assert wieder.returncode == 0, wieder.stderr
    assert wieder.stdout.strip() == "keine Änderungen"


def test_kaputte_strukturdatei_endet_mit_code_2_und_grund(tmp_path: Path) -> None:
    datei = tmp_path / "kaputt.toml"
    datei.write_text('[[themenfeld]]\nslug = "energie"\nname = \n', encoding="utf-8")
    ergebnis = klimabot("struktur", "import", str(datei), ordner=tmp_path)
    assert ergebnis.returncode == 2
    assert "kaputt.toml, Zeile 3: ungültiges TOML" in ergebnis.stderr
    assert not (tmp_path / "klimabot.db").exists()


def test_unbekannter_unterbefehl_endet_mit_code_2(tmp_path: Path) -> None:
    ergebnis = klimabot("strucktur", ordner=tmp_path)
    assert ergebnis.returncode == 2
    assert "Fehler" in ergebnis.stderr


def test_db_upgrade_und_struktur_import_auf_beiden_datenbanken(
    datenbank_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KLIMABOT_DATENBANK__URL", datenbank_url)
    assert main(["db", "upgrade"]) == 0
    assert "neuesten Stand" in capsys.readouterr().out
    assert main(["struktur", "import", str(BEISPIEL), "--wer", "Stabsstelle (Test)"]) == 0
    assert "Themenfelder angelegt" in capsys.readouterr().out
    assert main(["struktur", "import", str(BEISPIEL)]) == 0
    assert capsys.readouterr().out.strip() == "keine Änderungen"
    assert main(["struktur", "export"]) == 0
    assert '[[themenfeld]]\nslug = "energie"' in capsys.readouterr().out
