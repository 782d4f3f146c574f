"""`klimabot sicherung` und `klimabot wiederherstellen`, wie der Betrieb sie aufruft: ohne
Matrix-Geheimnis, im laufenden Betrieb, nur für das Konto des Bots lesbar, nichts überschreibend.

Wie ein wiederhergestellter Bot als dasselbe Gerät weiterläuft, zeigt
tests/integration/test_sicherung.py gegen Synapse.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sqlite3
import stat
import tarfile
import threading
from pathlib import Path

import pytest
from nio.crypto import OlmAccount
from nio.store import SqliteStore

from bot.cli import main
from tests.datenbanken import sqlite_kopie
from tests.kommandozeile import klimabot, systemd_analyze

WURZEL = Path(__file__).resolve().parent.parent
BOT = "@klimabot:stadt.test"
GERAET = "KLIMABOTGERAET"
SCHLUESSELPASSWORT = "schluessel-geheim"

# Die Konfiguration des Betriebs ohne ein einziges Geheimnis: die braucht hier niemand.
KONFIGURATION = f"""
[matrix]
homeserver = "https://matrix.stadt.test"
benutzer = "{BOT}"

[datenbank]
url = "{{url}}"
"""


def _modus(pfad: Path) -> int:
    return stat.S_IMODE(pfad.stat().st_mode)


def _schreibe_konfiguration(ordner: Path, url: str = "sqlite+aiosqlite:///klimabot.db") -> Path:
    ordner.mkdir(parents=True, exist_ok=True)
    config = ordner / "config.toml"
    config.write_text(KONFIGURATION.format(url=url), encoding="utf-8")
    return config


def _schluesselspeicher(ordner: Path) -> OlmAccount:
    """Ein Schlüsselspeicher, wie nio ihn dem Bot anlegt, mit dem Konto seines Geräts."""
    ordner.mkdir(mode=0o700)
    konto = OlmAccount()
    SqliteStore(BOT, GERAET, str(ordner), pickle_key=SCHLUESSELPASSWORT).save_account(konto)
    return konto


def _geladenes_konto(ordner: Path) -> OlmAccount | None:
    konto: OlmAccount | None = SqliteStore(
        BOT, GERAET, str(ordner), pickle_key=SCHLUESSELPASSWORT
    ).load_account()
    return konto


def _setze(datei: Path, schluessel: str, wert: str) -> None:
    with sqlite3.connect(datei) as verbindung:
        verbindung.execute(
            "INSERT INTO zustand (schluessel, wert) VALUES (?, ?) "
            "ON CONFLICT (schluessel) DO UPDATE SET wert = excluded.wert",
            (schluessel, wert),
        )
    verbindung.close()


def _lies(datei: Path, schluessel: str) -> str | None:
    verbindung = sqlite3.connect(datei)
    try:
        zeile = verbindung.execute(
            "SELECT wert FROM zustand WHERE schluessel = ?", (schluessel,)
        ).fetchone()
    finally:
        verbindung.close()
    return None if zeile is None else str(zeile[0])


@pytest.fixture
def betrieb(tmp_path: Path, _sqlite_vorlage: Path) -> Path:
    """Der Ordner eines Bots mit migrierter SQLite-Datenbank und Schlüsselspeicher daneben."""
    ordner = tmp_path / "betrieb"
    _schreibe_konfiguration(ordner)
    sqlite_kopie(_sqlite_vorlage, ordner / "klimabot.db")
    _setze(ordner / "klimabot.db", "sync.position", "s42_gesichert")
    _schluesselspeicher(ordner / "klimabot-schluessel")
    return ordner


def test_sicherung_enthaelt_manifest_datenbank_und_schluesselspeicher_nur_fuer_den_bot(
    betrieb: Path,
) -> None:
    ergebnis = klimabot("sicherung", "sicherung.tar.gz", ordner=betrieb)
    assert ergebnis.returncode == 0, ergebnis.stderr
    assert "Sicherung geschrieben: sicherung.tar.gz" in ergebnis.stdout
    assert "Datenbank: klimabot.db" in ergebnis.stdout
    assert "Schlüsselspeicher: 1 Datei" in ergebnis.stdout

    archiv = betrieb / "sicherung.tar.gz"
    assert _modus(archiv) == 0o600  # trotz umask 022
    # Keine Arbeitsreste neben dem Archiv.
    assert sorted(p.name for p in betrieb.iterdir()) == [
        "config.toml",
        "klimabot-schluessel",
        "klimabot.db",
        "sicherung.tar.gz",
    ]
    with tarfile.open(archiv, "r:gz") as tar:
        mitglieder = tar.getmembers()
        assert [m.name for m in mitglieder] == [
            "manifest.json",
            f"schluesselspeicher/{BOT}_{GERAET}.db",
            "datenbank/klimabot.db",
        ]
        assert {m.mode for m in mitglieder} == {0o600}
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        inhalt = {m.name: tar.extractfile(m).read() for m in mitglieder[1:]}  # type: ignore[union-attr]
    assert manifest["format"] == 1
    assert manifest["benutzer"] == BOT
    assert manifest["datenbank"] == "sqlite"
    assert manifest["erstellt"].endswith("Z")
    for eintrag in manifest["dateien"]:
        daten = inhalt[eintrag["name"]]
        assert eintrag["bytes"] == len(daten)
        assert eintrag["sha256"] == hashlib.sha256(daten).hexdigest()
        assert eintrag["sqlite"] is True
        assert daten.startswith(b"SQLite format 3\x00")


def test_wiederherstellung_ohne_matrix_geheimnis_gibt_dieselben_daten_und_schluessel(
    betrieb: Path, tmp_path: Path
) -> None:
    konto = _geladenes_konto(betrieb / "klimabot-schluessel")
    assert konto is not None
    assert klimabot("sicherung", "../sicherung.tar.gz", ordner=betrieb).returncode == 0

    neu = tmp_path / "neu" / "ort"
    _schreibe_konfiguration(neu)
    ergebnis = klimabot("wiederherstellen", "../../sicherung.tar.gz", ordner=neu)
    assert ergebnis.returncode == 0, ergebnis.stderr
    assert f"Datenbank → {neu / 'klimabot.db'}" in ergebnis.stdout
    assert f"Schlüsselspeicher → {neu / 'klimabot-schluessel'} (1 Datei)" in ergebnis.stdout

    assert _lies(neu / "klimabot.db", "sync.position") == "s42_gesichert"
    wieder = _geladenes_konto(neu / "klimabot-schluessel")
    assert wieder is not None
    assert wieder.identity_keys == konto.identity_keys
    assert _modus(neu / "klimabot.db") == 0o600
    assert _modus(neu / "klimabot-schluessel") == 0o700
    assert _modus(neu / "klimabot-schluessel" / f"{BOT}_{GERAET}.db") == 0o600
    assert sorted(p.name for p in neu.iterdir()) == [
        "config.toml",
        "klimabot-schluessel",
        "klimabot.db",
    ]


def test_wiederherstellen_ueberschreibt_weder_datenbank_noch_schluesselspeicher(
    betrieb: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sicherung = tmp_path / "sicherung.tar.gz"
    monkeypatch.chdir(betrieb)
    assert main(["sicherung", str(sicherung)]) == 0
    _setze(betrieb / "klimabot.db", "sync.position", "s43_danach")

    # Zurück an den alten Ort: dort liegt der laufende Stand, der bleibt unangetastet.
    assert main(["wiederherstellen", str(sicherung)]) == 2
    fehler = capsys.readouterr().err
    assert "Wiederherstellen überschreibt nichts" in fehler
    assert f"  {betrieb / 'klimabot.db'}\n" in fehler
    assert f"  {betrieb / 'klimabot-schluessel'}\n" in fehler
    assert _lies(betrieb / "klimabot.db", "sync.position") == "s43_danach"

    # Auch nur ein belegter Schlüsselspeicher neben einer leeren Datenbankdatei reicht.
    neu = tmp_path / "neu"
    _schreibe_konfiguration(neu)
    (neu / "klimabot.db").touch()
    _schluesselspeicher(neu / "klimabot-schluessel")
    monkeypatch.chdir(neu)
    assert main(["wiederherstellen", str(sicherung)]) == 2
    fehler = capsys.readouterr().err
    assert str(neu / "klimabot-schluessel") in fehler
    assert str(neu / "klimabot.db") not in fehler
    assert (neu / "klimabot.db").stat().st_size == 0


def test_sicherung_ueberschreibt_kein_vorhandenes_archiv(
    betrieb: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(betrieb)
    (betrieb / "alt.tar.gz").write_bytes(b"alte Sicherung")
    assert main(["sicherung", "alt.tar.gz"]) == 2
    assert "gibt es schon" in capsys.readouterr().err
    assert (betrieb / "alt.tar.gz").read_bytes() == b"alte Sicherung"


def test_abgeschnittene_sicherung_wird_abgelehnt_und_hinterlaesst_nichts(
    betrieb: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(betrieb)
    assert main(["sicherung", str(tmp_path / "ganz.tar.gz")]) == 0
    ganz = (tmp_path / "ganz.tar.gz").read_bytes()
    halb = tmp_path / "halb.tar.gz"
    halb.write_bytes(ganz[: len(ganz) // 2])

    neu = tmp_path / "neu"
    _schreibe_konfiguration(neu)
    monkeypatch.chdir(neu)
    assert main(["wiederherstellen", str(halb)]) == 2
    assert "beschädigt oder unvollständig" in capsys.readouterr().err
    assert sorted(p.name for p in neu.iterdir()) == ["config.toml"]


def test_sicherung_waehrend_bot_und_nio_schreiben_ist_in_sich_stimmig(
    betrieb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Zwei Werte, die jede Transaktion gemeinsam ändert, sind auch in der Kopie gleich."""
    datenbank = betrieb / "klimabot.db"
    schluessel = betrieb / "klimabot-schluessel" / f"{BOT}_{GERAET}.db"
    halt = threading.Event()
    geschrieben = [0, 0]

    def schreibe(datei: Path, art: int) -> None:
        verbindung = sqlite3.connect(datei, isolation_level=None, timeout=15)
        if art == 1:
            verbindung.execute("CREATE TABLE probe (schluessel TEXT PRIMARY KEY, wert INTEGER)")
        tabelle, spalte = ("zustand", "wert") if art == 0 else ("probe", "wert")
        while not halt.is_set():
            geschrieben[art] += 1
            verbindung.execute("BEGIN IMMEDIATE")
            for name in ("a", "b"):
                verbindung.execute(
                    f"INSERT INTO {tabelle} (schluessel, {spalte}) VALUES (?, ?) "
                    f"ON CONFLICT (schluessel) DO UPDATE SET {spalte} = excluded.{spalte}",
                    (name, str(geschrieben[art])),
                )
            verbindung.execute("COMMIT")
        verbindung.close()

    schreiber = [
        threading.Thread(target=schreibe, args=(datenbank, 0)),
        threading.Thread(target=schreibe, args=(schluessel, 1)),
    ]
    for faden in schreiber:
        faden.start()
    try:
        monkeypatch.chdir(betrieb)
        while min(geschrieben) < 20:
            halt.wait(0.01)
        assert main(["sicherung", str(tmp_path / "sicherung.tar.gz")]) == 0
        vorher = list(geschrieben)
    finally:
        halt.set()
        for faden in schreiber:
            faden.join()

    neu = tmp_path / "neu"
    _schreibe_konfiguration(neu)
    monkeypatch.chdir(neu)
    assert main(["wiederherstellen", str(tmp_path / "sicherung.tar.gz")]) == 0
    a, b = _lies(neu / "klimabot.db", "a"), _lies(neu / "klimabot.db", "b")
    assert a == b
    assert a is not None
    assert 1 <= int(a) <= vorher[0]
    kopie = sqlite3.connect(neu / "klimabot-schluessel" / f"{BOT}_{GERAET}.db")
    try:
        werte = dict(kopie.execute("SELECT schluessel, wert FROM probe").fetchall())
        # Der Schlüsselspeicher ist aus einem Augenblick kurz nach der Datenbank.
        assert werte["a"] == werte["b"]
        assert kopie.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        kopie.close()
    assert _geladenes_konto(neu / "klimabot-schluessel") is not None


def test_postgresql_sichert_nur_den_schluesselspeicher_und_verweist_auf_pg_dump(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Eine Datenbank muss dafür nicht erreichbar sein: angefasst wird sie nicht.
    url = "postgresql+asyncpg://klimabot:db-geheim@127.0.0.1:1/klimabot"
    betrieb = tmp_path / "betrieb"
    _schreibe_konfiguration(betrieb, url)
    konto = _schluesselspeicher(betrieb / "klimabot-schluessel")
    monkeypatch.chdir(betrieb)
    assert main(["sicherung", str(tmp_path / "sicherung.tar.gz")]) == 0
    ausgabe = capsys.readouterr().out
    assert "Schlüsselspeicher: 1 Datei" in ausgabe
    assert "mit pg_dump gesichert" in ausgabe
    with tarfile.open(tmp_path / "sicherung.tar.gz", "r:gz") as tar:
        assert tar.getnames() == ["manifest.json", f"schluesselspeicher/{BOT}_{GERAET}.db"]
        manifest = tar.extractfile("manifest.json").read()  # type: ignore[union-attr]
    assert json.loads(manifest)["datenbank"] == "postgresql"
    assert b"db-geheim" not in manifest

    # In eine SQLite-Konfiguration passt sie nicht …
    sqlite = tmp_path / "sqlite"
    _schreibe_konfiguration(sqlite)
    monkeypatch.chdir(sqlite)
    assert main(["wiederherstellen", str(tmp_path / "sicherung.tar.gz")]) == 2
    assert "pg_restore" in capsys.readouterr().err
    assert sorted(p.name for p in sqlite.iterdir()) == ["config.toml"]
    # … in eine mit PostgreSQL schon; die Datenbank bringt pg_restore.
    neu = tmp_path / "neu"
    _schreibe_konfiguration(neu, url)
    monkeypatch.chdir(neu)
    assert main(["wiederherstellen", str(tmp_path / "sicherung.tar.gz")]) == 0
    assert "pg_restore" in capsys.readouterr().out
    wieder = _geladenes_konto(neu / "klimabot-schluessel")
    assert wieder is not None
    assert wieder.identity_keys == konto.identity_keys


def test_sicherung_eines_anderen_bot_kontos_wird_nicht_wiederhergestellt(
    betrieb: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(betrieb)
    assert main(["sicherung", str(tmp_path / "sicherung.tar.gz")]) == 0
    neu = tmp_path / "neu"
    config = _schreibe_konfiguration(neu)
    config.write_text(
        config.read_text(encoding="utf-8").replace(BOT, "@anderer:stadt.test"), encoding="utf-8"
    )
    monkeypatch.chdir(neu)
    assert main(["wiederherstellen", str(tmp_path / "sicherung.tar.gz")]) == 2
    assert f"gehört zum Bot-Konto {BOT}" in capsys.readouterr().err
    assert sorted(p.name for p in neu.iterdir()) == ["config.toml"]


def test_sicherung_aus_einem_neueren_format_wird_mit_grund_abgelehnt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = json.dumps({"format": 2, "erstellt": "2031-01-01T00:00:00Z"}).encode()
    archiv = tmp_path / "zukunft.tar.gz"
    with tarfile.open(archiv, "w:gz") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
    neu = tmp_path / "neu"
    _schreibe_konfiguration(neu)
    monkeypatch.chdir(neu)
    assert main(["wiederherstellen", str(archiv)]) == 2
    assert "Format 2 ist neuer als diese Fassung" in capsys.readouterr().err
    assert sorted(p.name for p in neu.iterdir()) == ["config.toml"]


def test_systemd_nimmt_sicherungsdienst_und_zeitgeber_ohne_einwand_an(tmp_path: Path) -> None:
    einheiten = [tmp_path / "klimabot-sicherung.timer", tmp_path / "klimabot-sicherung.service"]
    for einheit in einheiten:
        shutil.copy(WURZEL / "deploy" / einheit.name, einheit)
    lauf = systemd_analyze("verify", "--man=no", *map(str, einheiten))
    assert (lauf.returncode, lauf.stderr, lauf.stdout) == (0, "", "")
    dienst = einheiten[1].read_text(encoding="utf-8")
    assert "klimabot sicherung " in dienst
    assert "--config /etc/klimabot/config.toml" in dienst
