"""Gegen echten Synapse: Passwort, Zugangstoken und Schlüsselpasswort stehen in keiner Logzeile
und in keiner Datei lesbar; was der Bot anlegt, ist nur für sein Konto lesbar."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import sqlite3
import stat
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from nio import RoomGetStateEventResponse
from sqlalchemy import update

from bot.anmeldung import ZUGANGSTOKEN, instanzschluessel
from bot.config import lade_einstellungen
from bot.geheimnisse import entschluessele, ist_verschluesselt
from modelle.tabellen import Zustand
from modelle.zustand import lies_zustand
from tests.integration import NeuePerson
from tests.integration.umgebung import Umgebung
from tests.kommandozeile import KLIMABOT, ohne_klimabot_umgebung

# Alles, was zwischen Bot und Homeserver oder Datenbank geschieht, loggt hier auf DEBUG.
LOGGER = ("nio", "aiohttp", "sqlalchemy", "sqlalchemy.engine", "aiosqlite", "peewee", "asyncio")


class Mitschrift(logging.Handler):
    """Jede Logzeile jedes Loggers, so formatiert, wie ein Handler sie ausgäbe (samt Traceback)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.zeilen: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.zeilen.append(self.format(record))

    async def warte_auf(self, text: str, frist: float = 20.0) -> None:
        ende = time.monotonic() + frist
        while not any(text in zeile for zeile in self.zeilen):
            assert time.monotonic() < ende, f"„{text}“ binnen {frist} s nicht im Protokoll"
            await asyncio.sleep(0.1)


@pytest.fixture
def mitschrift() -> Iterator[Mitschrift]:
    """Wurzel-Handler auf DEBUG, alle Logger offen – angemeldet vor dem Start des Bots."""
    handler = Mitschrift()
    wurzel = logging.getLogger()
    vorher = wurzel.level, {n: logging.getLogger(n).level for n in LOGGER}
    wurzel.setLevel(logging.DEBUG)
    for name in LOGGER:
        logging.getLogger(name).setLevel(logging.NOTSET)
    wurzel.addHandler(handler)
    try:
        yield handler
    finally:
        wurzel.removeHandler(handler)
        wurzel.setLevel(vorher[0])
        for name, stufe in vorher[1].items():
            logging.getLogger(name).setLevel(stufe)


def _kein_geheimnis_in(mitschrift: Mitschrift, **geheimnisse: str) -> None:
    for zeile in mitschrift.zeilen:
        for was, geheimnis in geheimnisse.items():
            assert geheimnis not in zeile, f"{was} im Protokoll: {zeile[:300]}"


def _konfigurierte(config: Path, schluessel: str) -> str:
    treffer = re.search(rf'^{schluessel} = "([^"]+)"', config.read_text(encoding="utf-8"), re.M)
    assert treffer is not None, schluessel
    return treffer[1]


def _datenbankdateien(ordner: Path, name: str = "klimabot.db") -> list[Path]:
    dateien = sorted(ordner.glob(f"{name}*"))
    assert dateien, f"{name} nicht gefunden"
    return dateien


def _nirgends_lesbar(dateien: list[Path], *geheimnisse: str) -> None:
    for datei in dateien:
        inhalt = datei.read_bytes()
        for geheimnis in geheimnisse:
            assert geheimnis.encode() not in inhalt, f"Ein Geheimnis steht lesbar in {datei.name}"


def _rechte(pfad: Path) -> int:
    return stat.S_IMODE(pfad.stat().st_mode)


async def _gespeichert(umgebung: Umgebung) -> str:
    assert umgebung.bot is not None
    async with umgebung.bot.sitzungen() as sitzung:
        wert = await lies_zustand(sitzung, _token_schluessel(umgebung))
    assert wert is not None
    return wert


def _token_schluessel(umgebung: Umgebung) -> str:
    """Das Token liegt je Instanz (jede ist ein eigenes Gerät, bot/bereitschaft.py)."""
    return instanzschluessel(ZUGANGSTOKEN, lade_einstellungen(umgebung.config).instanz.name)


async def _speichere(umgebung: Umgebung, wert: str) -> None:
    assert umgebung.bot is not None
    async with umgebung.bot.sitzungen.begin() as sitzung:
        await sitzung.execute(
            update(Zustand)
            .where(Zustand.schluessel == _token_schluessel(umgebung))
            .values(wert=wert)
        )


def _verfaelscht(wert: str) -> str:
    assert ist_verschluesselt(wert)
    vorne, _, inhalt = wert.rpartition(":")
    return f"{vorne}:{inhalt[:5]}{'B' if inhalt[5] == 'A' else 'A'}{inhalt[6:]}"


async def _status_beantwortet(umgebung: Umgebung, raum: str) -> None:
    frage = await umgebung.patin.sende(raum, "!status energie")
    antwort = await umgebung.patin.antwort_auf(frage, von=umgebung.bot_id)
    assert "Kommunale Wärmeplanung" in antwort["content"]["body"]


async def test_kein_geheimnis_in_einer_logzeile_von_start_bis_neuanmeldung(
    mitschrift: Mitschrift, verschluesselte_umgebung: Umgebung
) -> None:
    """Start mit Passwort in verschlüsselten Räumen, Befehle, ein abgewiesener Sendeversuch,
    Neustart, Neuanmeldung: jede Logzeile jedes Loggers auf DEBUG, ohne ein Geheimnis."""
    umgebung = verschluesselte_umgebung
    assert umgebung.bot is not None
    passwort = _konfigurierte(umgebung.config, "passwort")
    schluesselpasswort = _konfigurierte(umgebung.config, "schluesselpasswort")
    alt = umgebung.bot.client.access_token
    geraet = umgebung.bot.client.device_id
    patin, raum, bot_id = umgebung.patin, umgebung.raum_energie, umgebung.bot_id

    await _status_beantwortet(umgebung, raum)
    meldung = await patin.sende(raum, "!meldung waermeplanung gelb 40% Ausschreibung läuft")
    assert await patin.reaktion_auf(meldung, von=bot_id) == "✅"

    # Ein Fehlerfall: im Mobilitätsraum darf der Bot nicht mehr schreiben.
    mobil = umgebung.patin_mobilitaet
    stufen = await mobil.client.room_get_state_event(
        umgebung.raum_mobilitaet, "m.room.power_levels"
    )
    assert isinstance(stufen, RoomGetStateEventResponse), stufen
    await mobil.client.room_put_state(
        umgebung.raum_mobilitaet, "m.room.power_levels", {**stufen.content, "events_default": 50}
    )
    await mobil.sende(umgebung.raum_mobilitaet, "!status mobilitaet")
    await mitschrift.warte_auf("M_FORBIDDEN")

    # Neustart: dieselbe Anmeldung, das Token kommt entschlüsselt aus der Datenbank.
    await umgebung.stoppe_bot()
    bot = await umgebung.starte_bot()
    assert bot.client.access_token == alt
    await _status_beantwortet(umgebung, raum)
    geheimnisse = {"Passwort": passwort, "Schlüsselpasswort": schluesselpasswort}
    _kein_geheimnis_in(mitschrift, **geheimnisse, Token=alt)

    # Neustart mit einem Token, das nicht mehr zu entschlüsseln ist (wie nach einem anderen
    # Schlüssel): neue Anmeldung mit dem Passwort, dasselbe Gerät, ein neues Token.
    await _speichere(umgebung, _verfaelscht(await _gespeichert(umgebung)))
    await umgebung.stoppe_bot()
    bot = await umgebung.starte_bot()
    neu = bot.client.access_token
    assert neu != alt
    assert bot.client.device_id == geraet
    await mitschrift.warte_auf("nicht zu entschlüsseln")
    await _status_beantwortet(umgebung, raum)
    await umgebung.stoppe_bot()

    namen = {zeile.split(" ", 2)[1].rstrip(":") for zeile in mitschrift.zeilen}
    for erwartet in ("nio.", "sqlalchemy.engine", "aiosqlite", "bot.anmeldung", "peewee"):
        assert any(n.startswith(erwartet) for n in namen), (erwartet, sorted(namen))
    _kein_geheimnis_in(mitschrift, **geheimnisse, **{"altes Token": alt, "neues Token": neu})
    _nirgends_lesbar(_datenbankdateien(umgebung.config.parent), alt, neu)


async def test_altes_klartext_token_wird_verschluesselt_und_aus_der_datei_getilgt(
    mitschrift: Mitschrift, umgebung: Umgebung
) -> None:
    """Eine ältere Fassung schrieb das Token im Klartext: der nächste Start benutzt es noch,
    legt es verschlüsselt ab und lässt auch in freien Seiten und im WAL nichts davon übrig –
    und auch im Protokoll nicht, wo SQLAlchemy auf DEBUG die gelesene Zeile zeigt."""
    assert umgebung.bot is not None
    token, geraet = umgebung.bot.client.access_token, umgebung.bot.client.device_id
    ordner = umgebung.config.parent
    # Was der Bot selbst anlegt, ist nur für sein Konto lesbar – auch ohne die umask der CLI.
    assert _rechte(ordner / "klimabot.db") == 0o600
    assert _rechte(ordner / "klimabot-schluessel") == 0o700
    _nirgends_lesbar(_datenbankdateien(ordner), token)

    await _speichere(umgebung, token)  # wie die ältere Fassung
    await umgebung.stoppe_bot()
    bot = await umgebung.starte_bot()
    assert (bot.client.access_token, bot.client.device_id) == (token, geraet)
    gespeichert = await _gespeichert(umgebung)
    assert ist_verschluesselt(gespeichert)
    _nirgends_lesbar(_datenbankdateien(ordner), token)
    await _status_beantwortet(umgebung, umgebung.raum_energie)
    assert any("Klartext-Tokens werden" in z for z in mitschrift.zeilen)
    _kein_geheimnis_in(mitschrift, Token=token)


def _passwort_aendern(umgebung: Umgebung, admin_token: str, neu: str) -> None:
    """Wie eine Administratorin: neues Passwort, die Geräte des Kontos bleiben angemeldet."""
    anfrage = urllib.request.Request(
        f"{umgebung.homeserver.url}/_synapse/admin/v2/users/"
        + urllib.parse.quote(umgebung.bot_id, safe=""),
        data=json.dumps({"password": neu, "logout_devices": False}).encode(),
        headers={"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"},
        method="PUT",
    )
    oeffner = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with oeffner.open(anfrage, timeout=10) as antwort:
        assert antwort.status == 200


async def test_ohne_verschluesselung_und_nach_passwortwechsel_bleibt_es_dasselbe_geraet(
    umgebung: Umgebung, neue_person: NeuePerson
) -> None:
    """Ohne Ende-zu-Ende-Verschlüsselung schützt das Passwort das gespeicherte Token; nach
    einem Wechsel ist es nicht mehr zu entschlüsseln, und der Bot meldet sich neu an – als
    dasselbe Gerät, nicht als weiteres in der Geräteliste."""
    assert umgebung.bot is not None
    alt, geraet = umgebung.bot.client.access_token, umgebung.bot.client.device_id
    await umgebung.stoppe_bot()
    neues_passwort = "neu-" + alt[-12:][::-1]
    _passwort_aendern(umgebung, neue_person("admin", admin=True).access_token, neues_passwort)
    text = umgebung.config.read_text(encoding="utf-8")
    text = re.sub(r'\npasswort = "[^"]*"', f'\npasswort = "{neues_passwort}"', text)
    text = re.sub(r'\nschluesselpasswort = "[^"]*"', "\nverschluesselung = false", text)
    umgebung.config.write_text(text, encoding="utf-8")

    bot = await umgebung.starte_bot()
    assert bot.client.device_id == geraet
    assert bot.client.access_token != alt
    gespeichert = await _gespeichert(umgebung)
    zweck = f"{ZUGANGSTOKEN} {umgebung.bot_id}"
    assert entschluessele(gespeichert, neues_passwort, zweck) == bot.client.access_token
    await _status_beantwortet(umgebung, umgebung.raum_energie)


async def test_klimabot_run_legt_datenbank_und_schluesselspeicher_nur_fuer_sich_an(
    umgebung: Umgebung,
) -> None:
    """Ein echter Start der CLI bei einer üblichen umask (022): die Datenbank samt WAL, der
    Schlüsselspeicher und nios Dateien darin sind nur für das Konto des Bots lesbar, und das
    Token steht in keiner dieser Dateien lesbar."""
    await umgebung.stoppe_bot()
    ordner = umgebung.config.parent
    text = umgebung.config.read_text(encoding="utf-8").replace("klimabot.db", "run.db")
    umgebung.config.write_text(text, encoding="utf-8")
    prozess = await asyncio.create_subprocess_exec(
        KLIMABOT,
        "run",
        "--config",
        str(umgebung.config),
        cwd=ordner,
        env=ohne_klimabot_umgebung(),
        stderr=asyncio.subprocess.PIPE,
        umask=0o022,
    )
    assert prozess.stderr is not None
    try:
        zeilen: list[str] = []
        async with asyncio.timeout(60):
            while not any("Klimabot läuft als" in z for z in zeilen):
                zeile = await prozess.stderr.readline()
                assert zeile, "\n".join(zeilen)
                zeilen.append(zeile.decode())
        datenbank = _datenbankdateien(ordner, "run.db")
        assert {d.name for d in datenbank} >= {"run.db", "run.db-wal", "run.db-shm"}
        speicher = ordner / "run-schluessel"
        inhalt = sorted(speicher.iterdir())
        assert inhalt, "nio hat nichts im Schlüsselspeicher angelegt"
        rechte = {p.name: oct(_rechte(p)) for p in [*datenbank, speicher, *inhalt]}
        assert rechte == {
            **{p.name: "0o600" for p in [*datenbank, *inhalt]},
            speicher.name: "0o700",
        }

        with sqlite3.connect(ordner / "run.db") as verbindung:
            (gespeichert,) = verbindung.execute(
                "SELECT wert FROM zustand WHERE schluessel = ?", (_token_schluessel(umgebung),)
            ).fetchone()
        token = entschluessele(
            gespeichert,
            _konfigurierte(umgebung.config, "schluesselpasswort"),
            f"{ZUGANGSTOKEN} {umgebung.bot_id}",
        )
        _nirgends_lesbar([*_datenbankdateien(ordner, "run.db"), *inhalt], token)
    finally:
        if prozess.returncode is None:
            prozess.send_signal(signal.SIGTERM)
        await asyncio.wait_for(prozess.communicate(), timeout=30)
    assert prozess.returncode == 0
