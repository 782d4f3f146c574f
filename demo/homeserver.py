"""Ein Wegwerf-Synapse auf 127.0.0.1 für die Integrationstests, die Demo und die Bank.

Der Homeserver läuft als eigener Prozess; die API hier ist bewusst synchron, damit eine
sitzungsweite pytest-Fixture sie ohne Ereignisschleife nutzen kann. Die Demo ruft sie über
`asyncio.to_thread` auf.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import logging
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
KONFIGURATION = "homeserver.yaml"
LOGKONFIGURATION = "log_config.yaml"
PROTOKOLL = "homeserver.log"
# Fängt ab, was Synapse schreibt, bevor seine Logkonfiguration greift (Tracebacks beim Start).
KONSOLE = "konsole.log"

_GROSSZUEGIG = {"per_second": 1000, "burst_count": 1000}
# Synapses Voreinstellungen bremsen jeden Testschub aus, und nio wartet 429er stumm ab:
# Tests würden langsam statt rot. Deshalb sind alle Grenzen, die ein Bot oder Test
# erreicht, standardmäßig weit geöffnet.
_OFFENE_RATENLIMITS: dict[str, Any] = {
    "rc_message": _GROSSZUEGIG,
    "rc_registration": _GROSSZUEGIG,
    "rc_login": {
        "address": _GROSSZUEGIG,
        "account": _GROSSZUEGIG,
        "failed_attempts": _GROSSZUEGIG,
    },
    "rc_joins": {"local": _GROSSZUEGIG, "remote": _GROSSZUEGIG},
    "rc_joins_per_room": _GROSSZUEGIG,
    "rc_invites": {
        "per_room": _GROSSZUEGIG,
        "per_user": _GROSSZUEGIG,
        "per_issuer": _GROSSZUEGIG,
    },
    "rc_room_creation": _GROSSZUEGIG,
    "rc_media_create": _GROSSZUEGIG,
    "rc_profile": _GROSSZUEGIG,
}


class HomeserverFehler(RuntimeError):
    """Der lokale Homeserver startet nicht oder lehnt eine Anfrage ab."""

    def __init__(self, meldung: str, errcode: str | None = None) -> None:
        super().__init__(meldung)
        self.errcode = errcode


@dataclass(frozen=True)
class Zugang:
    """Ein registriertes Konto samt Anmeldung; das Passwort für spätere Neuanmeldungen."""

    user_id: str
    access_token: str
    passwort: str
    device_id: str

    def __repr__(self) -> str:
        # Zugänge landen in Testausgaben und Logs; Geheimnisse gehören nicht dorthin.
        return f"Zugang(user_id={self.user_id!r}, device_id={self.device_id!r})"


def freier_port() -> int:
    """Ein gerade freier TCP-Port auf 127.0.0.1 (kurzes Rennen bis Synapse ihn bindet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_belegt(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Wie Synapse selbst: Verbindungen in TIME_WAIT nach einem Neustart stören nicht,
        # nur ein anderer lauschender Prozess.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
        return False


class LokalerHomeserver:
    """Ein Synapse-Prozess mit SQLite-Datenbank, Medien und Schlüssel in `verzeichnis`.

    Dasselbe Verzeichnis übersteht `stop()` und `start()`: Konten, Räume und Tokens bleiben.
    Mit `ratenlimits=True` gelten Synapses eigene Ratenlimits (um M_LIMIT_EXCEEDED zu
    provozieren); sonst sind sie weit geöffnet.
    """

    def __init__(
        self,
        verzeichnis: Path,
        server_name: str = "klimabot.test",
        port: int | None = None,
        *,
        ratenlimits: bool = False,
    ) -> None:
        self.verzeichnis = verzeichnis.resolve()
        self.server_name = server_name
        self.port = port if port is not None else freier_port()
        self.ratenlimits = ratenlimits
        self.startdauer: float | None = None
        self._geheimnis = secrets.token_urlsafe(32)
        self._prozess: subprocess.Popen[bytes] | None = None
        self._konsole: IO[bytes] | None = None
        # Ohne leeren ProxyHandler ginge 127.0.0.1 über einen per Umgebung gesetzten Proxy.
        self._http = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def laeuft(self) -> bool:
        return self._prozess is not None and self._prozess.poll() is None

    @property
    def protokoll(self) -> Path:
        return self.verzeichnis / PROTOKOLL

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout: float = 30) -> None:
        """Startet Synapse und kehrt zurück, sobald die Client-API antwortet.

        Stirbt der Prozess vorher oder dauert es länger als `timeout` Sekunden, wird er
        beendet und ein `HomeserverFehler` mit dem Ende seines Logs geworfen.
        """
        if self.laeuft:
            return
        # Ein unterwegs gestorbener Prozess hinterlässt noch seine Logdatei-Verbindung.
        self.stop()
        if importlib.util.find_spec("synapse") is None:
            raise HomeserverFehler(
                "matrix-synapse ist nicht installiert (pip install -e '.[test]')"
            )
        if _port_belegt(self.port):
            # Sonst hielte die Bereitschaftsprüfung den fremden Dienst für unseren Synapse.
            raise HomeserverFehler(f"Port {self.port} auf {HOST} ist schon belegt")
        self.verzeichnis.mkdir(parents=True, exist_ok=True)
        self._schreibe_konfiguration()
        beginn = time.monotonic()
        self._konsole = (self.verzeichnis / KONSOLE).open("ab")
        self._prozess = subprocess.Popen(
            [sys.executable, "-m", "synapse.app.homeserver", "-c", KONFIGURATION],
            cwd=self.verzeichnis,
            stdin=subprocess.DEVNULL,
            stdout=self._konsole,
            stderr=subprocess.STDOUT,
        )
        try:
            self._warte_bis_bereit(beginn + timeout)
        except BaseException:
            self.stop()
            raise
        self.startdauer = time.monotonic() - beginn
        log.info(
            "Synapse %s läuft auf %s (Start %.2f s)", self.server_name, self.url, self.startdauer
        )

    def stop(self, timeout: float = 10) -> None:
        """Beendet Synapse mit SIGTERM und, falls er nicht reagiert, mit SIGKILL."""
        prozess, self._prozess = self._prozess, None
        if prozess is not None and prozess.poll() is None:
            prozess.terminate()
            try:
                prozess.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("Synapse reagiert nicht auf SIGTERM, wird hart beendet")
                prozess.kill()
                prozess.wait()
        if self._konsole is not None:
            self._konsole.close()
            self._konsole = None

    def registriere(self, name: str, passwort: str, admin: bool = False) -> Zugang:
        """Legt ein Konto über die Shared-Secret-Admin-API an und meldet es gleich an."""
        beginn = time.monotonic()
        pfad = "/_synapse/admin/v1/register"
        nonce = str(self._anfrage("GET", pfad)["nonce"])
        nachricht = b"\x00".join(
            teil.encode() for teil in (nonce, name, passwort, "admin" if admin else "notadmin")
        )
        signatur = hmac.new(self._geheimnis.encode(), nachricht, hashlib.sha1)
        antwort = self._anfrage(
            "POST",
            pfad,
            {
                "nonce": nonce,
                "username": name,
                "password": passwort,
                "admin": admin,
                "mac": signatur.hexdigest(),
            },
        )
        zugang = Zugang(
            user_id=str(antwort["user_id"]),
            access_token=str(antwort["access_token"]),
            passwort=passwort,
            device_id=str(antwort["device_id"]),
        )
        log.debug(
            "Konto %s registriert (%.0f ms)", zugang.user_id, (time.monotonic() - beginn) * 1000
        )
        return zugang

    def ratenlimit_aufheben(self, admin_token: str, user_id: str) -> None:
        """Nimmt `user_id` von allen Ratenlimits aus (0/0 heißt bei Synapse: keine Grenze)."""
        self._anfrage(
            "POST",
            f"/_synapse/admin/v1/users/{urllib.parse.quote(user_id, safe='')}/override_ratelimit",
            {"messages_per_second": 0, "burst_count": 0},
            token=admin_token,
        )

    def _konfiguration(self) -> dict[str, Any]:
        konfiguration: dict[str, Any] = {
            "server_name": self.server_name,
            "public_baseurl": f"{self.url}/",
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": [HOST],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {
                "name": "sqlite3",
                "args": {"database": str(self.verzeichnis / "homeserver.db")},
            },
            "media_store_path": str(self.verzeichnis / "medien"),
            "signing_key_path": str(self.verzeichnis / "signing.key"),
            "log_config": str(self.verzeichnis / LOGKONFIGURATION),
            "registration_shared_secret": self._geheimnis,
            "enable_registration": False,
            "report_stats": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "presence": {"enabled": False},
            # Wegwerfserver: ein Konto anzulegen kostet so Millisekunden statt ~250 ms.
            "bcrypt_rounds": 4,
        }
        if not self.ratenlimits:
            konfiguration.update(_OFFENE_RATENLIMITS)
        return konfiguration

    def _logkonfiguration(self) -> dict[str, Any]:
        # Ohne eigene Logkonfiguration schreibt Synapse Hunderte INFO-Zeilen auf stderr.
        return {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "einfach": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
            },
            "handlers": {
                "datei": {
                    "class": "logging.FileHandler",
                    "filename": str(self.protokoll),
                    "formatter": "einfach",
                    "encoding": "utf-8",
                }
            },
            "root": {"level": "WARNING", "handlers": ["datei"]},
        }

    def _schreibe_konfiguration(self) -> None:
        # JSON ist gültiges YAML; so braucht `bot/` keine YAML-Bibliothek.
        for name, inhalt in (
            (KONFIGURATION, self._konfiguration()),
            (LOGKONFIGURATION, self._logkonfiguration()),
        ):
            (self.verzeichnis / name).write_text(
                json.dumps(inhalt, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )

    def _warte_bis_bereit(self, frist: float) -> None:
        assert self._prozess is not None
        while True:
            code = self._prozess.poll()
            if code is not None:
                raise HomeserverFehler(
                    f"Synapse hat sich beim Start beendet (Code {code}).\n{self._logende()}"
                )
            try:
                with self._http.open(f"{self.url}/_matrix/client/versions", timeout=1):
                    pass
            except (urllib.error.URLError, OSError):
                pass
            else:
                if self._prozess.poll() is None:
                    return
                continue
            if time.monotonic() > frist:
                raise HomeserverFehler(
                    f"Synapse antwortet nach dem Start nicht auf {self.url}.\n{self._logende()}"
                )
            time.sleep(0.05)

    def _logende(self, zeilen: int = 30) -> str:
        teile: list[str] = []
        for datei in (self.verzeichnis / KONSOLE, self.protokoll):
            if not datei.exists():
                continue
            with datei.open(encoding="utf-8", errors="replace") as inhalt:
                ende = "".join(deque(inhalt, maxlen=zeilen)).rstrip()
            # Einen tödlichen Fehler schreibt Synapse in beide Dateien; einmal reicht.
            if ende and not any(ende.splitlines()[-1] in teil for teil in teile):
                teile.append(f"--- {datei.name} (Ende) ---\n{ende}")
        return "\n".join(teile) or "(kein Log vorhanden)"

    def _anfrage(
        self,
        methode: str,
        pfad: str,
        daten: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        kopf = {"Content-Type": "application/json"}
        if token is not None:
            kopf["Authorization"] = f"Bearer {token}"
        anfrage = urllib.request.Request(
            self.url + pfad,
            data=None if daten is None else json.dumps(daten).encode(),
            headers=kopf,
            method=methode,
        )
        try:
            with self._http.open(anfrage, timeout=10) as antwort:
                inhalt: dict[str, Any] = json.load(antwort)
                return inhalt
        except urllib.error.HTTPError as fehler:
            with fehler:
                text = fehler.read().decode("utf-8", errors="replace")
            try:
                koerper = json.loads(text)
            except ValueError:
                koerper = {}
            errcode = koerper.get("errcode") if isinstance(koerper, dict) else None
            raise HomeserverFehler(
                f"{methode} {pfad}: HTTP {fehler.code} {text.strip()[:300]}", errcode
            ) from None
