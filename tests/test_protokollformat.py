"""Das Protokoll als JSON für den Log-Sammler: eine Zeile je Ereignis, nie ein Geheimnis."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import KonfigurationFehler, lade_einstellungen
from bot.geheimnisse import schuetze_protokoll
from bot.protokoll import JsonFormat, stelle_format_ein
from tests.protokolle import eigenes_protokoll

GEHEIM = "Passwort-fuer-das-Json-Protokoll"


@pytest.fixture
def json_protokoll() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    schuetze_protokoll(GEHEIM)
    with eigenes_protokoll("tests.protokollformat", JsonFormat(), logging.INFO) as protokoll:
        yield protokoll


def test_jede_zeile_ist_ein_json_objekt_mit_zeit_stufe_logger_und_nachricht(
    json_protokoll: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, ausgabe = json_protokoll
    logger.info("Klimabot läuft als %s", "@klimabot:muenster.de")
    logger.warning("Zeile eins\nZeile zwei")
    zeilen = ausgabe.getvalue().splitlines()
    assert len(zeilen) == 2
    erste, zweite = (json.loads(z) for z in zeilen)
    assert erste["level"] == "INFO"
    assert erste["logger"] == "tests.protokollformat"
    assert erste["message"] == "Klimabot läuft als @klimabot:muenster.de"
    assert erste["time"].endswith("+00:00")
    assert "exception" not in erste
    assert zweite["message"] == "Zeile eins\nZeile zwei"


def test_ein_geheimnis_erscheint_weder_in_nachricht_noch_im_traceback(
    json_protokoll: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, ausgabe = json_protokoll
    logger.error("Anmeldung mit %s gescheitert; access_token=syt_abcdefghijklmnop", GEHEIM)
    try:
        raise RuntimeError(f"Verbindung mit Passwort {GEHEIM} abgewiesen")
    except RuntimeError:
        logger.exception("Unerwarteter Fehler")
    text = ausgabe.getvalue()
    assert GEHEIM not in text
    assert "syt_abcdefghijklmnop" not in text
    erste, zweite = (json.loads(z) for z in text.splitlines())
    assert erste["message"] == "Anmeldung mit *** gescheitert; access_token=***"
    assert zweite["message"] == "Unerwarteter Fehler"
    assert "Traceback" in zweite["exception"]
    assert "RuntimeError: Verbindung mit Passwort *** abgewiesen" in zweite["exception"]


def test_format_wird_fuer_alle_handler_umgestellt() -> None:
    wurzel = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    wurzel.addHandler(handler)
    try:
        stelle_format_ein("json")
        assert isinstance(handler.formatter, JsonFormat)
        stelle_format_ein("text")
        assert not isinstance(handler.formatter, JsonFormat)
    finally:
        wurzel.removeHandler(handler)


def test_protokollformat_ist_text_oder_json(tmp_path: Path) -> None:
    datei = tmp_path / "config.toml"
    datei.write_text('[bot]\nprotokollformat = "json"\n', encoding="utf-8")
    assert lade_einstellungen(datei).bot.protokollformat == "json"
    datei.write_text('[bot]\nprotokollformat = "xml"\n', encoding="utf-8")
    with pytest.raises(KonfigurationFehler) as fehler:
        lade_einstellungen(datei)
    assert fehler.value.probleme == ['bot.protokollformat = "xml": „text“ oder „json“']
