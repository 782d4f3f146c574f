"""Geheimnisse ruhen verschlüsselt, Dateien sind nur für den Bot, und das Protokoll schweigt.

Gegen Synapse (ganzer Ablauf, jede Logzeile): tests/integration/test_geheimnisse.py.
"""

from __future__ import annotations

import asyncio
import gc
import io
import logging
import os
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import ClientError, web
from nio import AsyncClient
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.anmeldung import tresorpasswort
from bot.app import Klimabot
from bot.cli import main
from bot.config import Einstellungen, MatrixEinstellungen, lade_einstellungen
from bot.geheimnisse import (
    NichtEntschluesselbar,
    entschluessele,
    ist_verschluesselt,
    schuetze_protokoll,
    verschluessele,
)
from modelle.datenbank import erzeuge_engine, erzeuge_sitzungsfabrik
from modelle.migration import aktualisiere_schema
from modelle.tabellen import Zustand
from tests.kommandozeile import klimabot
from tests.protokolle import eigenes_protokoll

WURZEL = Path(__file__).resolve().parent.parent
TOKEN = "syt_a2xpbWFib3Q_GeheimesZugangstoken_0xAb1"


def _rechte(pfad: Path) -> int:
    return stat.S_IMODE(pfad.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    """Die übliche umask, unter der SQLite und mkdir für alle lesbar anlegen."""
    vorher = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(vorher)


# --- Datenbank --------------------------------------------------------------------------------


async def test_fehler_einer_anweisung_zeigt_ihre_werte_nicht(engine: AsyncEngine) -> None:
    sitzungen = erzeuge_sitzungsfabrik(engine)
    async with sitzungen.begin() as sitzung:
        sitzung.add(Zustand(schluessel="matrix.zugangstoken", wert="alt"))
    with pytest.raises(IntegrityError) as fehler:
        async with sitzungen.begin() as sitzung:
            sitzung.add(Zustand(schluessel="matrix.zugangstoken", wert=TOKEN))
    assert "zustand" in str(fehler.value)  # die Anweisung selbst bleibt sichtbar
    assert TOKEN not in str(fehler.value)


async def test_neue_sqlite_datei_samt_wal_nur_fuer_den_bot(tmp_path: Path, umask_022: None) -> None:
    datei = tmp_path / "neu" / "klimabot.db"
    datei.parent.mkdir()
    engine = erzeuge_engine(f"sqlite+aiosqlite:///{datei}")
    try:
        await aktualisiere_schema(engine)
        async with engine.connect() as verbindung:
            await verbindung.execute(text("SELECT 1"))
            rechte = {p.name: oct(_rechte(p)) for p in datei.parent.iterdir()}
    finally:
        await engine.dispose()
    assert rechte == {f"klimabot.db{e}": "0o600" for e in ("", "-wal", "-shm")}


def test_db_upgrade_legt_die_datenbank_nur_fuer_den_bot_an(tmp_path: Path) -> None:
    (tmp_path / "daten").mkdir()
    ergebnis = klimabot(
        "db",
        "upgrade",
        ordner=tmp_path,
        KLIMABOT_DATENBANK__URL=f"sqlite+aiosqlite:///{tmp_path / 'daten' / 'klimabot.db'}",
    )
    assert ergebnis.returncode == 0, ergebnis.stderr
    assert _rechte(tmp_path / "daten" / "klimabot.db") == 0o600


# --- klimabot check ---------------------------------------------------------------------------

GUELTIG = """
[matrix]
homeserver = "https://matrix.example.org"
benutzer = "@klimabot:example.org"
passwort = "geheim"
schluesselpasswort = "auch-geheim"

[bot]
stabsstelle_raum = "#klima-stabsstelle:example.org"
strukturdatei = "struktur.toml"
"""


@pytest.fixture
def ordner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "struktur.toml").write_bytes((WURZEL / "beispiele" / "muenster.toml").read_bytes())
    (tmp_path / "config.toml").write_text(GUELTIG, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("url", "gezeigt"),
    [
        ("mysql://klimabot:Db-Geheim-42@db.intern/klimabot", "mysql://klimabot:***@db.intern/"),
        ("postgresql://klimabot:Db-Geheim-42@db.intern:fuenf/x", "postgresql://klimabot:***@db"),
        ("postgresql://klimabot:Db/Geheim@42@db.intern:fuenf/x", "postgresql://klimabot:***@db"),
    ],
)
def test_check_zeigt_eine_ungueltige_datenbank_url_ohne_passwort(
    ordner: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    url: str,
    gezeigt: str,
) -> None:
    monkeypatch.setenv("KLIMABOT_DATENBANK__URL", url)
    assert main(["check", "--config", str(ordner / "config.toml")]) == 2
    fehler = capsys.readouterr().err
    assert f'datenbank.url = "{gezeigt}' in fehler
    assert "Geheim" not in fehler


def test_check_warnt_vor_zu_offener_datenbank_und_schluesselspeicher(
    ordner: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (ordner / "klimabot.db").touch(mode=0o644)
    (ordner / "klimabot.db").chmod(0o644)
    speicher = ordner / "klimabot-schluessel"
    speicher.mkdir()
    speicher.chmod(0o755)
    (speicher / "geraet.db").touch()
    (speicher / "geraet.db").chmod(0o640)
    assert main(["check", "--config", str(ordner / "config.toml")]) == 0
    ausgabe = capsys.readouterr()
    assert ausgabe.out.strip() == "OK"
    warnungen = [z for z in ausgabe.err.splitlines() if z.startswith("Warnung: ")]
    assert len(warnungen) == 3, ausgabe.err
    assert f"{ordner / 'klimabot.db'}: Rechte 644" in warnungen[0]
    assert f"chmod 600 {ordner / 'klimabot.db'}" in warnungen[0]
    assert f"chmod 700 {speicher}" in warnungen[1]
    assert f"chmod 600 {speicher / 'geraet.db'}" in warnungen[2]

    for pfad in (ordner / "klimabot.db", speicher / "geraet.db"):
        pfad.chmod(0o600)
    speicher.chmod(0o700)
    assert main(["check", "--config", str(ordner / "config.toml")]) == 0
    assert "Warnung" not in capsys.readouterr().err


async def test_start_warnt_im_protokoll_vor_zu_offener_datenbank(
    ordner: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (ordner / "klimabot.db").touch()
    (ordner / "klimabot.db").chmod(0o664)
    # Ein Homeserver, den es nicht gibt: der Start scheitert, die Warnung steht vorher da.
    text = GUELTIG.replace("https://matrix.example.org", "http://127.0.0.1:9")
    (ordner / "config.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ClientError):
        await Klimabot.erzeuge(lade_einstellungen(ordner / "config.toml"))
    assert f"{ordner / 'klimabot.db'}: Rechte 664" in caplog.text


# --- Zugangstoken -----------------------------------------------------------------------------


def test_zugangstoken_nur_mit_passwort_und_fuer_dasselbe_konto_lesbar() -> None:
    zweck = "matrix.zugangstoken @klimabot:example.org"
    wert = verschluessele(TOKEN, "schluesselpasswort", zweck)
    assert ist_verschluesselt(wert)
    assert TOKEN not in wert
    assert not ist_verschluesselt(TOKEN)  # so erkennt der Start ein Token der älteren Fassung
    assert entschluessele(wert, "schluesselpasswort", zweck) == TOKEN
    # Jedes Mal anders (eigenes Salz, eigene Nonce): gleiche Tokens sehen nicht gleich aus.
    assert verschluessele(TOKEN, "schluesselpasswort", zweck) != wert

    vorne, _, inhalt = wert.rpartition(":")
    verfaelscht = f"{vorne}:{'B' if inhalt[0] == 'A' else 'A'}{inhalt[1:]}"
    for falsch in (
        (wert, "anderes-passwort", zweck),
        (wert, "schluesselpasswort", "matrix.zugangstoken @fremd:example.org"),
        (verfaelscht, "schluesselpasswort", zweck),
        (TOKEN, "schluesselpasswort", zweck),
        ("klimabot-aesgcm-scrypt-1:kaputt:kaputt:kaputt", "schluesselpasswort", zweck),
    ):
        with pytest.raises(NichtEntschluesselbar):
            entschluessele(*falsch)


@pytest.mark.parametrize(
    ("werte", "tresor"),
    [
        ({"passwort": "pw", "schluesselpasswort": "sp"}, "sp"),
        ({"passwort": "pw", "verschluesselung": False}, "pw"),
        ({"zugangstoken": "syt_x", "verschluesselung": False}, None),
    ],
)
def test_schluessel_des_tokens_aus_schluesselpasswort_sonst_passwort(
    werte: dict[str, object], tresor: str | None
) -> None:
    einstellungen = MatrixEinstellungen.model_validate(
        {"homeserver": "https://hs.example.org", "benutzer": "@bot:example.org", **werte}
    )
    assert tresorpasswort(einstellungen) == tresor


# --- Protokoll --------------------------------------------------------------------------------


@pytest.fixture
def protokoll() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """Ein eigener Logger mit eigenem Handler, erst nach dem Schutz angelegt, ohne Weitergabe:
    der Schutz darf von keinem Handler abhängen."""
    schuetze_protokoll(SecretStr("Passwort-des-Bots"), "Schluesselpasswort-42")
    with eigenes_protokoll(
        "tests.geheimnisse.eigen", logging.Formatter("%(levelname)s %(message)s")
    ) as protokoll:
        yield protokoll


def test_logzeilen_und_tracebacks_zeigen_kein_geheimnis(
    protokoll: tuple[logging.Logger, io.StringIO],
) -> None:
    log, ausgabe = protokoll
    log.info("Anmeldung mit %s und %s", "Passwort-des-Bots", "Schluesselpasswort-42")
    log.debug("Validating response schema: %s", {"user_id": "@b:x", "access_token": TOKEN})
    log.debug('{"type": "m.login.password", "password": "Passwort-des-Bots"}')
    log.warning("Anfrage mit Authorization: Bearer %s", TOKEN)
    log.warning("Datenbank postgresql+asyncpg://klimabot:Db-Geheim-42@db/klimabot")
    log.debug("Row (%r,)", TOKEN)  # so zeigt SQLAlchemy ein gelesenes Klartext-Token
    try:
        raise RuntimeError(f"0, message='', url='http://hs/_matrix/sync?access_token={TOKEN}'")
    except RuntimeError:
        log.exception("Sync unterbrochen")
    text = ausgabe.getvalue()
    for geheimnis in (TOKEN, "Passwort-des-Bots", "Schluesselpasswort-42", "Db-Geheim-42"):
        assert geheimnis not in text
    assert "Traceback (most recent call last)" in text
    assert "sync?access_token=***'" in text
    assert "'access_token': '***'" in text
    assert "Bearer ***" in text
    assert "Anmeldung mit *** und ***" in text
    assert "postgresql+asyncpg://klimabot:***@db/klimabot" in text
    assert "Row ('***',)" in text


@pytest.fixture
async def umleitender_homeserver() -> AsyncIterator[str]:
    """Ein Server, der jede Anfrage auf sich selbst umleitet (wie ein falsch eingerichteter
    Proxy): aiohttp gibt irgendwann auf – mit der ganzen Adresse in der Fehlermeldung."""

    async def umleiten(anfrage: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(str(anfrage.rel_url))

    app = web.Application()
    app.router.add_route("*", "/{pfad:.*}", umleiten)
    runner = web.AppRunner(app)
    await runner.setup()
    seite = web.TCPSite(runner, "127.0.0.1", 0)
    await seite.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_aufgabe_mit_fehler_von_aiohttp_zeigt_das_token_nicht(
    umleitender_homeserver: str, protokoll: tuple[logging.Logger, io.StringIO]
) -> None:
    """Eine Aufgabe stirbt an einem Fehler von aiohttp, niemand holt ihn ab: asyncio
    protokolliert die Aufgabe samt `repr` der Ausnahme – und darin die Kopfzeilen der Anfrage
    mit `Authorization: Bearer …`."""
    _, ausgabe = protokoll
    handler = logging.getLogger("tests.geheimnisse.eigen").handlers[0]
    logging.getLogger("asyncio").addHandler(handler)
    client = AsyncClient(umleitender_homeserver, "@klimabot:example.org")
    client.access_token = TOKEN
    try:
        aufgabe = asyncio.create_task(client.sync(timeout=0))
        await asyncio.wait([aufgabe])
        fehler = aufgabe.exception()
        assert isinstance(fehler, ClientError)
        assert TOKEN in repr(fehler)
        del aufgabe, fehler
        # Wie eine Aufgabe, deren Fehler niemand abholt: asyncio meldet sie beim Aufräumen.
        aufgabe = asyncio.create_task(client.sync(timeout=0))
        await asyncio.wait([aufgabe])
        del aufgabe
        gc.collect()
    finally:
        logging.getLogger("asyncio").removeHandler(handler)
        await client.close()
    text = ausgabe.getvalue()
    assert "Task exception was never retrieved" in text
    assert "TooManyRedirects" in text
    assert TOKEN not in text
    assert "Bearer ***" in text


def test_geheimnisse_der_konfiguration() -> None:
    einstellungen = Einstellungen.model_validate(
        {
            "matrix": {
                "homeserver": "https://hs.example.org",
                "benutzer": "@bot:example.org",
                "passwort": "pw",
                "zugangstoken": "tok",
                "schluesselpasswort": "sp",
            },
            "datenbank": {"url": "postgresql://klimabot:dbpw@db/klimabot"},
        }
    )
    werte = [
        w.get_secret_value() if isinstance(w, SecretStr) else w for w in einstellungen.geheimnisse()
    ]
    assert sorted(w for w in werte if w is not None) == ["dbpw", "pw", "sp", "tok"]
