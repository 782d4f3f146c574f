"""Was der Bot tut, damit seine Geheimnisse nicht herumliegen.

- **Zugangstoken**: In der Datenbank liegt es nur verschlüsselt (AES-256-GCM, Schlüssel per
  scrypt aus dem Schlüsselpasswort, ohne Verschlüsselung aus dem Passwort). Wer nur die
  Datenbank hat – ein Backup, ein Dump, eine PostgreSQL-Administratorin –, kann sich damit
  nicht als Bot anmelden.
- **Dateien**: Datenbankdatei und Schlüsselspeicher sind nur für das Konto des Bots lesbar;
  zu offene bestehende Dateien nennt `zu_offene_dateien` (Protokoll und `klimabot check`).
- **Protokoll**: Jede Logzeile – jedes Loggers, jeder Bibliothek, auch Tracebacks – wird
  geschwärzt, bevor ein Handler sie sieht: bekannte Geheimnisse (Passwort,
  Schlüsselpasswort, Zugangstoken, Passwort der Datenbank) und alles, was wie eines aussieht.
  Gefunden haben sich: die Antwort auf die Anmeldung, die nio auf DEBUG zeigt
  (`'access_token': …`); `Authorization: Bearer …` im `repr` eines aiohttp-Fehlers, den
  asyncio für eine gestorbene Aufgabe protokolliert; `?access_token=…` in den Pfaden von nios
  `Api` (nios `_send` verlegt es in den Kopf, `send()` nicht); das Passwort einer
  Datenbank-URL. Werte von Anweisungen zeigt SQLAlchemy gar nicht erst
  (`modelle.datenbank.erzeuge_engine`).

Geschwärzt wird in der LogRecord-Fabrik, nicht in einem Filter an einem Handler: ein Filter
schützt nur die Handler, an denen er hängt, die Fabrik jeden – auch die, die später
jemand anmeldet (journald, pytest, ein Fehlerdienst).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import re
import secrets
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from Crypto.Cipher import AES
from pydantic import SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# --- Zugangstoken ----------------------------------------------------------------------------

# Erkennungszeichen und Fassung des Formats; ein Wert ohne es ist ein Klartext-Token aus der
# Zeit vor der Verschlüsselung.
_FORMAT = "klimabot-aesgcm-scrypt-1"
# scrypt wie für interaktive Anmeldungen empfohlen (16 MiB, hier ~0,1–0,2 s): einmal je Start.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_SALZ, _NONCE = 16, 12


class NichtEntschluesselbar(Exception):
    """Falsches Passwort, anderes Konto oder veränderter Wert."""


def ist_verschluesselt(wert: str) -> bool:
    return wert.startswith(_FORMAT + ":")


def _schluessel(passwort: str, salz: bytes) -> bytes:
    return hashlib.scrypt(
        passwort.encode(), salt=salz, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )


def verschluessele(klartext: str, passwort: str, zweck: str) -> str:
    """Verschlüsselt authentifiziert; `zweck` (etwa Art und Konto) ist mit unterschrieben.

    Blockiert für die Schlüsselableitung (~0,1 s): aus der Ereignisschleife mit
    `asyncio.to_thread` aufrufen.
    """
    salz, nonce = secrets.token_bytes(_SALZ), secrets.token_bytes(_NONCE)
    chiffre = AES.new(_schluessel(passwort, salz), AES.MODE_GCM, nonce=nonce)
    chiffre.update(zweck.encode())
    text, marke = chiffre.encrypt_and_digest(klartext.encode())
    teile = (base64.urlsafe_b64encode(t).decode() for t in (salz, nonce, text + marke))
    return ":".join((_FORMAT, *teile))


def entschluessele(wert: str, passwort: str, zweck: str) -> str:
    """Gegenstück zu `verschluessele`; wirft `NichtEntschluesselbar`, statt zu raten."""
    teile = wert.split(":")
    if len(teile) != 4 or teile[0] != _FORMAT:
        raise NichtEntschluesselbar("unbekanntes Format")
    try:
        salz, nonce, inhalt = (base64.urlsafe_b64decode(t) for t in teile[1:])
        chiffre = AES.new(_schluessel(passwort, salz), AES.MODE_GCM, nonce=nonce)
        chiffre.update(zweck.encode())
        # Ohne passende Marke (falsches Passwort, anderer Zweck, veränderter Wert): ValueError.
        return chiffre.decrypt_and_verify(inhalt[:-16], inhalt[-16:]).decode()
    except ValueError as fehler:  # auch binascii.Error und UnicodeDecodeError
        raise NichtEntschluesselbar("Wert nicht entschlüsselbar") from fehler


# --- Dateirechte -----------------------------------------------------------------------------


def lege_ordner_an(pfad: Path) -> None:
    """Legt einen Ordner nur für dieses Konto an (0700), unabhängig von der umask.

    Ein bestehender Ordner bleibt, wie er ist: ihn meldet `zu_offene_dateien`.
    """
    if pfad.is_dir():
        return
    pfad.mkdir(mode=0o700, parents=True, exist_ok=True)
    pfad.chmod(0o700)


def zu_offene_dateien(pfade: list[Path]) -> list[str]:
    """Warnungen für jede der Dateien und Ordner (samt Inhalt), die auch andere lesen könnten.

    Nur Warnungen, kein stilles `chmod`: Rechte, die jemand absichtlich gesetzt hat (etwa für
    ein Backup-Konto), ändert der Bot nicht.
    """
    warnungen: list[str] = []
    for pfad in pfade:
        kandidaten = [pfad]
        if pfad.is_dir():
            with contextlib.suppress(OSError):  # nicht lesbar: der Ordner selbst zählt
                kandidaten += sorted(pfad.iterdir())
        for kandidat in kandidaten:
            try:
                modus = stat.S_IMODE(kandidat.stat().st_mode)
            except OSError:
                continue  # gibt es (noch) nicht
            if modus & 0o077:
                soll = "700" if kandidat.is_dir() else "600"
                warnungen.append(
                    f"{kandidat}: Rechte {modus:o} – auch andere Konten dieses Rechners kommen "
                    f"an Daten, die nur den Bot angehen; bitte: chmod {soll} {kandidat}"
                )
    return warnungen


# --- Protokoll -------------------------------------------------------------------------------

GESCHWAERZT = "***"
# Ein „Geheimnis“ aus ein bis drei Zeichen schwärzte fast jede Zeile und schützt nichts.
_MINDESTLAENGE = 4
# Passwort in einer URL: postgresql://klimabot:GEHEIM@db/klimabot. Im Protokoll nur bis zum
# ersten „/“ (sonst würde jeder Pfad mit einer Matrix-ID geschwärzt, …/profile/@bot:server);
# ein Passwort mit „/“ fängt dort sein Wert (`merke_geheimnisse`).
_URL_PASSWORT = re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^:/@\s]*:)[^\s/]*@", re.IGNORECASE)
# Ein einzelner Wert, der eine URL sein soll: alles bis zum letzten @.
_URL_PASSWORT_GANZ = re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^:/@\s]*:)\S*@", re.IGNORECASE)
_MUSTER = [
    # Adressen, wie nio sie baut: …/sync?access_token=syt_…&since=…
    (re.compile(r"(access_token=)[^&\s'\"]+", re.IGNORECASE), rf"\1{GESCHWAERZT}"),
    # Antworten und Anfragen als JSON oder dict: {"access_token": "…"}, {'password': '…'}
    (
        re.compile(
            r"""(["'](?:access_token|refresh_token|password|new_password)["']\s*:\s*["'])"""
            r"""[^"']*""",
            re.IGNORECASE,
        ),
        rf"\1{GESCHWAERZT}",
    ),
    (re.compile(r"(Bearer\s+)[^\s'\",]+", re.IGNORECASE), rf"\1{GESCHWAERZT}"),
    # Tokens von Synapse und MAS auch ohne Zusammenhang – etwa die Zeile, die SQLAlchemy auf
    # DEBUG beim Lesen eines Klartext-Tokens älterer Fassungen zeigt, bevor der Bot es kennt.
    (re.compile(r"\b(?:syt|syr|mat|mar)_[A-Za-z0-9_\-]{8,}"), GESCHWAERZT),
    (_URL_PASSWORT, rf"\1{GESCHWAERZT}@"),
]


class _Schwaerzung:
    """Die bekannten Geheimnisse und wie sie im Protokoll ersetzt werden.

    Geschrieben wird selten (Start, Anmeldung), gelesen bei jeder Logzeile aus jedem Thread:
    deshalb ersetzt `merke` das Muster als Ganzes, statt eine Menge zu verändern, über die
    ein anderer Thread gerade läuft.
    """

    def __init__(self) -> None:
        self._werte: frozenset[str] = frozenset()
        self._muster: re.Pattern[str] | None = None
        self._sperre = threading.Lock()
        self._eingerichtet = False

    def merke(self, werte: list[str]) -> None:
        neu = {w for w in werte if len(w) >= _MINDESTLAENGE}
        with self._sperre:
            if neu <= self._werte:
                return
            self._werte = self._werte | neu
            # Längste zuerst: ein Geheimnis, das ein anderes enthält, wird ganz ersetzt.
            alle = sorted(self._werte, key=len, reverse=True)
            self._muster = re.compile("|".join(re.escape(w) for w in alle))

    def __call__(self, text: str) -> str:
        muster = self._muster
        if muster is not None:
            text = muster.sub(GESCHWAERZT, text)
        for form, ersatz in _MUSTER:
            text = form.sub(ersatz, text)
        return text

    def richte_ein(self) -> None:
        """Hängt die Schwärzung an die LogRecord-Fabrik; mehrfach aufrufbar, wirkt einmal."""
        with self._sperre:
            if self._eingerichtet:
                return
            self._eingerichtet = True
            vorher: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

            def fabrik(*args: Any, **kwargs: Any) -> logging.LogRecord:
                satz = vorher(*args, **kwargs)
                self.schwaerze_satz(satz)
                return satz

            logging.setLogRecordFactory(fabrik)

    def schwaerze_satz(self, satz: logging.LogRecord) -> None:
        try:
            text = satz.getMessage()
        except Exception:
            # Passen Text und Argumente nicht zusammen, zeigte logging sonst beide roh auf stderr.
            text = f"{satz.msg!r} % {satz.args!r}"
        satz.msg, satz.args = self(text), None
        if satz.exc_info and satz.exc_info[0] is not None:
            # Den Traceback jetzt schreiben und geschwärzt ablegen; ohne exc_info kann kein
            # Formatter ihn später noch einmal roh aus der Ausnahme bauen.
            satz.exc_text = self(_TRACEBACK.formatException(satz.exc_info))
            satz.exc_info = None
        elif satz.exc_text:
            satz.exc_text = self(satz.exc_text)
        if satz.stack_info:
            satz.stack_info = self(satz.stack_info)


_SCHWAERZUNG = _Schwaerzung()
_TRACEBACK = logging.Formatter()


def schwaerze(text: str) -> str:
    """`text` ohne bekannte Geheimnisse und ohne alles, was wie ein Token aussieht."""
    return _SCHWAERZUNG(text)


def ohne_url_passwort(wert: str) -> str:
    """`postgresql://klimabot:GEHEIM@db/x` → `postgresql://klimabot:***@db/x`.

    Auch für eine URL, die SQLAlchemy nicht lesen kann – gerade die zeigt `klimabot check`.
    """
    try:
        adresse = make_url(wert)
    except (ArgumentError, ValueError):
        return _URL_PASSWORT_GANZ.sub(rf"\1{GESCHWAERZT}@", wert)
    if adresse.password is None:
        return wert
    return adresse.render_as_string(hide_password=True)


def merke_geheimnisse(*werte: str | SecretStr | None) -> None:
    """Diese Werte erscheinen ab jetzt in keiner Logzeile mehr (auch nicht in Tracebacks)."""
    _SCHWAERZUNG.merke(
        [w.get_secret_value() if isinstance(w, SecretStr) else w for w in werte if w is not None]
    )


def schuetze_protokoll(*geheimnisse: str | SecretStr | None) -> None:
    """Schwärzt ab jetzt jede Logzeile im Prozess; merkt sich dazu `geheimnisse`.

    Mehrfach aufrufbar (CLI und jeder gestartete Bot): die Fabrik kommt nur einmal hinein.
    """
    merke_geheimnisse(*geheimnisse)
    _SCHWAERZUNG.richte_ein()


# Eine Zeile des Textprotokolls: Zeit, Stufe, Herkunft, Nachricht.
TEXTFORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def richte_protokoll_ein() -> None:
    """Das Protokoll eines Kommandozeilenprogramms: Warnungen und Schlimmeres mit Zeit und
    Herkunft auf stderr, jede Zeile geschwärzt (siehe `schuetze_protokoll`)."""
    logging.basicConfig(level=logging.WARNING, format=TEXTFORMAT)
    schuetze_protokoll()
