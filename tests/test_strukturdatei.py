"""Die Strukturdatei lesen und prüfen: jedes Problem mit Ort und Grund, alle auf einmal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from modelle.strukturdatei import StrukturFehler, lies_struktur, parse_struktur
from tests.strukturen import BASIS, UNGUELTIGE_DATEIEN


@pytest.mark.parametrize(("aendern", "probleme"), UNGUELTIGE_DATEIEN)
def test_ungueltige_datei_nennt_datei_eintrag_und_problem(
    aendern: Callable[[str], str], probleme: list[str]
) -> None:
    with pytest.raises(StrukturFehler) as fehler:
        parse_struktur(aendern(BASIS), "muenster.toml")

    for problem in probleme:
        assert any(p.startswith(problem) for p in fehler.value.probleme), fehler.value.probleme
    assert len(fehler.value.probleme) == len(probleme), fehler.value.probleme
    assert str(fehler.value) == "\n".join(fehler.value.probleme)
    assert not any("line" in p or "Field" in p for p in fehler.value.probleme)


def test_alle_probleme_werden_auf_einmal_gemeldet() -> None:
    text = (
        BASIS.replace('ampel = "gelb"', 'ampel = "lila"')
        .replace('"@thomas.reinhardt:muenster.de"', '"thomas"')
        .replace('themenfeld = "mobilitaet"', 'themenfeld = "wasser"')
    )
    with pytest.raises(StrukturFehler) as fehler:
        parse_struktur(text, "muenster.toml")
    assert fehler.value.probleme == [
        "muenster.toml, Person „thomas“: „thomas“ ist keine gültige Matrix-ID (Form @name:server)",
        "muenster.toml, Projekt „waermeplanung“: Ampel „lila“ unbekannt "
        "(erlaubt: grün, gelb, rot, abgeschlossen)",
        "muenster.toml, Projekt „radrouten“: Themenfeld „wasser“ gibt es nicht",
    ]


def test_leere_datei_ist_keine_struktur() -> None:
    with pytest.raises(StrukturFehler, match="kein Themenfeld angegeben"):
        parse_struktur("# nur ein Kommentar\n", "leer.toml")


def test_fehlende_datei_wird_genannt(tmp_path: Path) -> None:
    with pytest.raises(StrukturFehler, match="Datei nicht gefunden"):
        lies_struktur(tmp_path / "gibt-es-nicht.toml")
