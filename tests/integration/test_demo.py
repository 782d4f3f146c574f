"""`klimabot-demo`, wie jemand sie aufruft: eigener Prozess, echte Ausgabe, nichts bleibt liegen."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from demo.__main__ import main
from tests.kommandozeile import ohne_klimabot_umgebung

# Wie `klimabot-demo`, aber ohne dass das Skript schon installiert sein muss.
DEMO = [sys.executable, "-m", "demo"]
FRIST = 90
# Die Demo wünscht sich Port 8008; zwei zugleich griffen womöglich beide danach. make test
# verteilt die Tests dateiweise auf seine Prozesse (--dist loadfile): diese laufen nacheinander.


def _arbeitsordner(ausgabe: str) -> Path:
    treffer = re.search(r"Arbeitsordner (\S+)", ausgabe)
    assert treffer, ausgabe
    return Path(treffer[1])


def _nichts_bleibt(ordner: Path) -> None:
    assert not ordner.exists()
    if Path("/proc").is_dir():
        # Synapse läuft mit dem Arbeitsordner als Arbeitsverzeichnis; kein Prozess darf übrig sein.
        for prozess in Path("/proc").iterdir():
            if prozess.name.isdigit():
                try:
                    verzeichnis = os.readlink(prozess / "cwd")
                except OSError:
                    continue
                assert not verzeichnis.startswith(str(ordner)), f"Prozess {prozess.name} lebt"


def _dashboard(ausgabe: str) -> Path:
    treffer = re.search(r"Klimadashboard: (file://\S+/index\.html)$", ausgabe, re.MULTILINE)
    assert treffer, ausgabe
    return Path(unquote(urlparse(treffer[1]).path))


def _umgebung(**zusatz: str) -> dict[str, str]:
    # Ohne die KLIMABOT_-Variablen des Testlaufs (CI setzt z. B. die PostgreSQL-URL).
    sauber = ohne_klimabot_umgebung()
    return {**sauber, "PYTHONUNBUFFERED": "1", **zusatz}


def test_demo_spielt_die_szene_nach_zwoelf_wochen_vorgeschichte_und_raeumt_auf(
    tmp_path: Path,
) -> None:
    echte_datenbank = tmp_path / "echt.db"
    lauf = subprocess.run(
        [*DEMO, "--nur-szene"],
        capture_output=True,
        text=True,
        timeout=FRIST,
        # Eine Einstellung aus der Umgebung darf die Demo nie auf eine echte Datenbank lenken.
        env=_umgebung(KLIMABOT_DATENBANK__URL=f"sqlite+aiosqlite:///{echte_datenbank}"),
    )
    ausgabe = lauf.stdout
    assert lauf.returncode == 0, ausgabe + lauf.stderr
    # Unter Last darf eine Warnung (z. B. ein wiederholter Sync) erscheinen; Fehler nicht.
    assert "Traceback" not in lauf.stderr
    assert " ERROR " not in lauf.stderr, lauf.stderr

    assert "[Themenfeld Energie] Lukas Terhorst: !status energie" in ausgabe
    assert "Klimabot: *Themenfeld Energie* – 4 Projekte" in ausgabe
    assert "Klimabot reagiert mit ✅" in ausgabe
    assert "Dekarbonisierung der Fernwärme: 🟢 grün gespeichert." in ausgabe
    assert "Entschuldigung, Meldungen für das Themenfeld „Energie“ geben" in ausgabe
    # Der zweite Stand zeigt beide Meldungen.
    zweiter_stand = ausgabe.rsplit("!status energie", 1)[1]
    assert re.search(r"🟡 gelb \*Kommunale Wärmeplanung\*.*40 %.*Fachkräfte fehlen", zweiter_stand)
    assert re.search(r"🟢 grün \*Dekarbonisierung der Fernwärme\*.*heute", zweiter_stand)
    assert "muenster.de" not in ausgabe
    # Die Räume der Demo sind verschlüsselt; das Diagramm kam als verschlüsselte Datei.
    assert "(Ende-zu-Ende-verschlüsselt)" in ausgabe
    assert re.search(r"\[Bild\] .*\(mxc://\S+, verschlüsselt\)", ausgabe), ausgabe

    # Zwölf Wochen Vorgeschichte: Der Wochenbericht der Szene zählt echte Ampelwechsel (die
    # letzte Woche und die Szene), das überfällige Projekt und keine 23 neuen Projekte.
    assert re.search(r"Spiele 12 Wochen Vorgeschichte ein: Import der Struktur am \d", ausgabe)
    assert "überfällig: Klimaresiliente Stadtbäume (stadtbaeume)" in ausgabe
    bericht = ausgabe.split("Lena Hüsing: !bericht", 1)[1]
    bewegung = re.search(
        r"^ *(\d+) Ampelwechsel · 1 Projekt überfällig(.*)$", bericht, re.MULTILINE
    )
    assert bewegung, bericht
    assert int(bewegung[1]) >= 3
    assert "neue" not in bewegung[2]
    assert "• *Klimaresiliente Stadtbäume* (stadtbaeume) · letzte Meldung" in bericht
    zeitraum = re.search(r"Wochenbericht (\S+) – (\S+)\*", bericht)
    assert zeitraum, bericht
    von, bis = (dt.datetime.strptime(datum, "%d.%m.%Y").date() for datum in zeitraum.groups())
    # Freitags ab 14:00 holt der Bot beim Start den fälligen Wochenbericht nach; die Vorschau
    # beginnt dann dort, und der Abschluss der Vorwoche stand schon in jenem.
    if bis - von == dt.timedelta(days=7):
        assert "1 Projekt abgeschlossen" in bewegung[2]
        assert "• ✅ *Fortschreibung des Klimaanpassungskonzepts* (klimaanpassungskonzept)" in (
            bericht
        )
    # Das Klimadashboard hat der Bot nach der Vorgeschichte geschrieben; die Demo nennt es.
    assert _dashboard(ausgabe).is_relative_to(_arbeitsordner(ausgabe))

    assert "KLIMABOT_DATENBANK__URL gilt in der Demo nicht" in ausgabe
    assert not echte_datenbank.exists()
    _nichts_bleibt(_arbeitsordner(ausgabe))


def test_demo_laeuft_mit_klimadashboard_bis_strg_c_und_raeumt_dann_auf() -> None:
    prozess = subprocess.Popen(
        DEMO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_umgebung(),
    )
    wachhund = threading.Timer(FRIST, prozess.kill)
    wachhund.start()
    try:
        assert prozess.stdout is not None
        zeilen = []
        for zeile in prozess.stdout:
            zeilen.append(zeile)
            if "Strg+C beendet die Demo" in zeile:
                break
        ausgabe = "".join(zeilen)
        if prozess.poll() is not None or "Strg+C beendet die Demo" not in ausgabe:
            # Die Demo endete vorzeitig: ihr Fehlerausgang sagt, warum.
            assert prozess.stderr is not None
            prozess.wait(timeout=FRIST)
            raise AssertionError(f"{ausgabe}\n--- stderr ---\n{prozess.stderr.read()}")
        assert re.search(r"@anna\.becker:klimabot\.demo +\S+ +Dr\. Anna Becker", ausgabe), ausgabe
        assert "Homeserver: http://127.0.0.1:" in ausgabe
        # Solange die Demo läuft, lässt sich das Klimadashboard im Browser öffnen.
        seite = _dashboard(ausgabe).read_text(encoding="utf-8")
        assert "Klimaresiliente Stadtbäume" in seite
        assert "<svg" in seite
        prozess.send_signal(signal.SIGINT)
        rest, fehler = prozess.communicate(timeout=FRIST)
    finally:
        wachhund.cancel()
        if prozess.poll() is None:
            prozess.kill()
            prozess.wait()
    assert prozess.returncode == 0, ausgabe + rest + fehler
    assert "aufgeräumt" in rest
    _nichts_bleibt(_arbeitsordner(ausgabe))


def test_ohne_synapse_erklaert_die_demo_den_weg(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Ein None in sys.modules lässt find_spec „nicht installiert“ melden.
    monkeypatch.setitem(sys.modules, "synapse", None)
    assert main(["--nur-szene"]) == 2
    assert "make demo" in capsys.readouterr().err
