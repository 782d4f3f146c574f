"""`klimabot check` und das Laden der Konfiguration: jedes Problem mit Schlüssel, Wert, Grund."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import KonfigurationFehler, lade_einstellungen

WURZEL = Path(__file__).resolve().parent.parent


def _schreibe(ordner: Path, text: str) -> Path:
    datei = ordner / "config.toml"
    datei.write_text(text, encoding="utf-8")
    return datei


GUELTIG = """
[matrix]
homeserver = "https://matrix.example.org"
benutzer = "@klimabot:example.org"
passwort = "geheim"
schluesselpasswort = "auch-geheim"
einladungen_von = ["example.org", "@admin:andere.org"]

[bot]
stabsstelle_raum = "#klima-stabsstelle:example.org"
strukturdatei = "struktur.toml"
"""


@pytest.fixture
def ordner(tmp_path: Path) -> Path:
    shutil.copy(WURZEL / "beispiele" / "muenster.toml", tmp_path / "struktur.toml")
    return tmp_path


def test_beispielkonfiguration_ist_gueltig(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(WURZEL)
    monkeypatch.setenv("KLIMABOT_MATRIX__PASSWORT", "aus-der-umgebung")
    monkeypatch.setenv("KLIMABOT_MATRIX__SCHLUESSELPASSWORT", "auch-aus-der-umgebung")
    assert main(["check", "--config", "config.example.toml"]) == 0
    assert capsys.readouterr().out.strip() == "OK"


def test_check_meldet_jedes_problem_mit_schluessel_wert_und_grund(
    ordner: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    datei = _schreibe(
        ordner,
        """
[matrix]
homeserver = "matrix.example.org"
benutzer = "klimabot"
passwort = "geheim"
verschluesselung = false
einladungen_von = ["kein server!"]

[bot]
zeitzone = "Europa/Münster"
befehlspraefix = "bitte"
stabsstelle_raum = "stabsstelle"
strukturdatei = "struktur.toml"
tippfehler = 1

[zeitplan]
abfrage = "montags irgendwann"
""",
    )
    assert main(["check", "--config", str(datei)]) == 2
    fehler = capsys.readouterr().err.splitlines()
    assert 'matrix.homeserver = "matrix.example.org": keine gültige Adresse' in fehler[0]
    erwartet = [
        'matrix.benutzer = "klimabot": keine gültige Matrix-ID (Form @name:server)',
        "matrix.einladungen_von = [",
        'bot.zeitzone = "Europa/Münster": unbekannte Zeitzone (z. B. Europe/Berlin)',
        'bot.befehlspraefix = "bitte": ein bis drei Satzzeichen',
        'bot.stabsstelle_raum = "stabsstelle": keine gültige Raumadresse',
        "bot.tippfehler = 1: unbekannter Schlüssel",
        'zeitplan.abfrage = "montags irgendwann": ',
    ]
    for teil in erwartet:
        assert any(teil in zeile for zeile in fehler), (teil, fehler)


@pytest.mark.parametrize(
    ("alt", "neu", "schluessel", "wert"),
    [
        pytest.param(
            'passwort = "geheim"', "passwort = 12345", "matrix.passwort", "12345", id="passwort"
        ),
        pytest.param(
            '"auch-geheim"', "4711", "matrix.schluesselpasswort", "4711", id="schluesselpasswort"
        ),
    ],
)
def test_passwort_erscheint_nie_in_fehlermeldungen(
    ordner: Path,
    capsys: pytest.CaptureFixture[str],
    alt: str,
    neu: str,
    schluessel: str,
    wert: str,
) -> None:
    datei = _schreibe(ordner, GUELTIG.replace(alt, neu))
    assert main(["check", "--config", str(datei)]) == 2
    fehler = capsys.readouterr().err
    assert f"{schluessel} = ***: muss ein Text sein" in fehler
    assert wert not in fehler


def test_kaputtes_toml_nennt_die_zeile(ordner: Path, capsys: pytest.CaptureFixture[str]) -> None:
    datei = _schreibe(ordner, '[matrix]\nhomeserver = "https://x.org"\nbenutzer = \n')
    assert main(["check", "--config", str(datei)]) == 2
    assert "ungültiges TOML (Zeile 3" in capsys.readouterr().err


def test_check_prueft_auch_die_strukturdatei(
    ordner: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (ordner / "struktur.toml").write_text(
        '[[themenfeld]]\nslug = "energie"\nname = "Energie"\nfarbe = "gelb"\n', encoding="utf-8"
    )
    datei = _schreibe(ordner, GUELTIG)
    assert main(["check", "--config", str(datei)]) == 2
    assert "farbe" in capsys.readouterr().err


def test_fehlende_anmeldung_und_abschnitte_werden_genannt(
    ordner: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    datei = _schreibe(ordner, '[datenbank]\nurl = "sqlite:///x.db"\n')
    assert main(["check", "--config", str(datei)]) == 2
    fehler = capsys.readouterr().err
    assert "matrix: Abschnitt fehlt" in fehler
    assert "bot.stabsstelle_raum: fehlt" in fehler
    assert "bot.strukturdatei: fehlt" in fehler

    # Das Passwort braucht nur `run`: `check` warnt, mit --fuer-run ist es ein Fehler.
    datei = _schreibe(ordner, GUELTIG.replace('passwort = "geheim"\n', ""))
    assert main(["check", "--config", str(datei)]) == 0
    assert "Warnung: matrix: passwort oder zugangstoken fehlt" in capsys.readouterr().err
    assert main(["check", "--fuer-run", "--config", str(datei)]) == 2
    assert "matrix: passwort oder zugangstoken fehlt" in capsys.readouterr().err


def test_geheimnis_aus_der_umgebung_ueberschreibt_die_datei(
    ordner: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KLIMABOT_MATRIX__PASSWORT", "aus-der-umgebung")
    monkeypatch.setenv("KLIMABOT_DATENBANK__URL", "postgresql://klimabot@db.intern/klimabot")
    einstellungen = lade_einstellungen(_schreibe(ordner, GUELTIG))
    assert einstellungen.matrix is not None
    assert einstellungen.matrix.passwort is not None
    assert einstellungen.matrix.passwort.get_secret_value() == "aus-der-umgebung"
    assert einstellungen.datenbank.url == "postgresql+asyncpg://klimabot@db.intern/klimabot"
    assert "aus-der-umgebung" not in repr(einstellungen)


def test_vorgaben_und_relative_strukturdatei(ordner: Path) -> None:
    einstellungen = lade_einstellungen(_schreibe(ordner, GUELTIG))
    assert einstellungen.bot.zeitzone == "Europe/Berlin"
    assert einstellungen.bot.befehlspraefix == "!"
    assert einstellungen.datenbank.url == "sqlite+aiosqlite:///klimabot.db"
    assert einstellungen.bot.strukturdatei == ordner / "struktur.toml"


def test_einladungen_nach_person_und_server(ordner: Path) -> None:
    matrix = lade_einstellungen(_schreibe(ordner, GUELTIG)).matrix
    assert matrix is not None
    assert matrix.darf_einladen("@wer:example.org")
    assert matrix.darf_einladen("@admin:andere.org")
    assert not matrix.darf_einladen("@fremd:andere.org")
    assert not matrix.darf_einladen("@wer:example.org.evil.com")


def test_ausdruecklich_genannte_datei_muss_existieren(tmp_path: Path) -> None:
    with pytest.raises(KonfigurationFehler, match="nicht gefunden"):
        lade_einstellungen(tmp_path / "fehlt.toml")


def test_unerwarteter_fehlertyp_wird_trotzdem_deutsch_gemeldet(
    ordner: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    datei = _schreibe(ordner, GUELTIG + '\n[zeitplan]\nnachholfrist_stunden = "bald"\n')
    assert main(["check", "--config", str(datei)]) == 2
    fehler = capsys.readouterr().err
    assert "zeitplan.nachholfrist_stunden" in fehler
    assert "Input should" not in fehler


def test_verschluesselung_verlangt_ein_schluesselpasswort(
    ordner: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    datei = _schreibe(ordner, GUELTIG.replace('schluesselpasswort = "auch-geheim"\n', ""))
    assert main(["check", "--fuer-run", "--config", str(datei)]) == 2
    fehler = capsys.readouterr().err
    assert "matrix: schluesselpasswort fehlt" in fehler
    assert "KLIMABOT_MATRIX__SCHLUESSELPASSWORT" in fehler

    ohne = GUELTIG.replace('schluesselpasswort = "auch-geheim"', "verschluesselung = false")
    assert main(["check", "--fuer-run", "--config", str(_schreibe(ordner, ohne))]) == 0


def test_schluesselspeicher_liegt_neben_der_sqlite_datenbank(ordner: Path) -> None:
    text = GUELTIG + f'\n[datenbank]\nurl = "sqlite:///{ordner / "daten" / "bot.db"}"\n'
    matrix = lade_einstellungen(_schreibe(ordner, text)).matrix
    assert matrix is not None
    assert matrix.schluesselspeicher == ordner / "daten" / "bot-schluessel"


def test_schluesselspeicher_relativ_zur_konfiguration(ordner: Path) -> None:
    text = GUELTIG.replace(
        'schluesselpasswort = "auch-geheim"',
        'schluesselpasswort = "auch-geheim"\nschluesselspeicher = "schluessel"',
    )
    matrix = lade_einstellungen(_schreibe(ordner, text)).matrix
    assert matrix is not None
    assert matrix.schluesselspeicher == ordner / "schluessel"


def test_flutgrenze_laesst_sich_einstellen_und_abschalten(ordner: Path) -> None:
    assert lade_einstellungen(_schreibe(ordner, GUELTIG)).bot.flut_stoss == 20
    abgeschaltet = _schreibe(ordner, GUELTIG + "flut_stoss = 0\n")
    assert lade_einstellungen(abgeschaltet).bot.flut_stoss == 0
    with pytest.raises(KonfigurationFehler, match=r"bot\.flut_stoss"):
        lade_einstellungen(_schreibe(ordner, GUELTIG + "flut_stoss = -1\n"))


def test_dashboard_ordner_gilt_von_der_konfiguration_aus_und_zeitplan_wird_geprueft(
    ordner: Path,
) -> None:
    assert lade_einstellungen(_schreibe(ordner, GUELTIG)).dashboard.ordner is None
    mit = _schreibe(ordner, GUELTIG + '\n[dashboard]\nordner = "seite"\nzeitplan = "mo-fr 07:00"\n')
    assert lade_einstellungen(mit).dashboard.ordner == ordner / "seite"
    with pytest.raises(KonfigurationFehler, match=r"dashboard\.zeitplan"):
        lade_einstellungen(_schreibe(ordner, GUELTIG + '\n[dashboard]\nzeitplan = "irgendwann"\n'))
