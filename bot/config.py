"""Die Konfiguration des Bots: eine TOML-Datei, Geheimnisse auch aus der Umgebung.

Umgebungsvariablen `KLIMABOT_<ABSCHNITT>__<SCHLÜSSEL>` (z. B. `KLIMABOT_MATRIX__PASSWORT`)
überschreiben die Datei. Unbekannte Schlüssel sind Fehler: ein Tippfehler soll nicht
still übergangen werden.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import tomllib
import zoneinfo
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.drossel import STOSS
from bot.geheimnisse import ohne_url_passwort
from modelle.datenbank import sqlite_datei
from modelle.werte import ist_matrix_id, ist_raumadresse, ist_servername
from modelle.zeitplan import Zeitplan

STANDARD_PFAD = Path("config.toml")
GEHEIME_SCHLUESSEL = {"passwort", "zugangstoken", "schluesselpasswort"}
MATRIX_FEHLT = "matrix: Abschnitt fehlt (homeserver, benutzer, passwort)"


class KonfigurationFehler(Exception):
    """Die Konfiguration ist unbrauchbar; `probleme` nennt jedes Problem auf Deutsch."""

    def __init__(self, probleme: list[str]) -> None:
        super().__init__("\n".join(probleme))
        self.probleme = probleme


def _matrix_id(wert: str) -> str:
    if not ist_matrix_id(wert):
        raise ValueError("keine gültige Matrix-ID (Form @name:server)")
    return wert


def _raumadresse(wert: str) -> str:
    if not ist_raumadresse(wert):
        raise ValueError("keine gültige Raumadresse (Form #name:server oder !id:server)")
    return wert


def _zeitplan(wert: str) -> str:
    Zeitplan.aus_text(wert)  # wirft ValueError mit deutscher Begründung
    return wert


MatrixId = Annotated[str, AfterValidator(_matrix_id)]
Raumadresse = Annotated[str, AfterValidator(_raumadresse)]
Zeitplantext = Annotated[str, AfterValidator(_zeitplan)]


class _Abschnitt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MatrixEinstellungen(_Abschnitt):
    homeserver: str
    benutzer: MatrixId
    passwort: SecretStr | None = None
    zugangstoken: SecretStr | None = None
    geraetename: str = "Klimabot"
    # Wer den Bot in Räume einladen darf: Matrix-IDs (@name:server) und/oder ganze Server.
    einladungen_von: list[str] = Field(default_factory=list)
    # Ende-zu-Ende-Verschlüsselung: die Schlüssel des Bot-Geräts liegen im Schlüsselspeicher
    # (Vorgabe: Ordner neben der SQLite-Datenbank), mit dem Schlüsselpasswort verschlüsselt.
    verschluesselung: bool = True
    schluesselspeicher: Path | None = None
    schluesselpasswort: SecretStr | None = None
    # Raumschlüssel bekommen die Geräte der Personen der Struktur und dieser Konten.
    raumschluessel_auch_fuer: list[MatrixId] = Field(default_factory=list)
    # Streng: nur Geräte, die die Person selbst per Cross-Signing bestätigt hat.
    nur_gegengezeichnete_geraete: bool = False
    # Ein neues Gerät einer Person der Struktur im Raum der Stabsstelle melden.
    neue_geraete_melden: bool = False

    @field_validator("homeserver")
    @classmethod
    def _homeserver(cls, wert: str) -> str:
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", wert):
            raise ValueError("keine gültige Adresse (Form https://matrix.example.org)")
        return wert.rstrip("/")

    @field_validator("einladungen_von")
    @classmethod
    def _einladende(cls, werte: list[str]) -> list[str]:
        for wert in werte:
            if not (ist_matrix_id(wert) or ist_servername(wert)):
                raise ValueError(f"„{wert}“ ist weder eine Matrix-ID noch ein Servername")
        return werte

    def fehlende_geheimnisse(self) -> list[str]:
        """Was `klimabot run` zur Anmeldung braucht und nicht gesetzt ist, je ein Problem.

        Kein Validator: die Verwaltungsbefehle (`struktur`, `bericht`, `export`, `db`) brauchen
        nur die Datenbank, und die Geheimnisse stehen oft nur in der Umgebung des Dienstes,
        nicht in der Shell der Verwaltung.
        """
        probleme: list[str] = []
        if self.passwort is None and self.zugangstoken is None:
            probleme.append(
                "matrix: passwort oder zugangstoken fehlt "
                "(auch als KLIMABOT_MATRIX__PASSWORT möglich)"
            )
        if self.verschluesselung and not (
            self.schluesselpasswort and self.schluesselpasswort.get_secret_value()
        ):
            probleme.append(
                "matrix: schluesselpasswort fehlt: es schützt die Schlüssel des Bots "
                "(auch als KLIMABOT_MATRIX__SCHLUESSELPASSWORT möglich; "
                "oder verschluesselung = false)"
            )
        return probleme

    def darf_einladen(self, matrix_id: str) -> bool:
        server = matrix_id.partition(":")[2]
        return matrix_id in self.einladungen_von or server in self.einladungen_von


class DatenbankEinstellungen(_Abschnitt):
    url: str = "sqlite+aiosqlite:///klimabot.db"

    @field_validator("url")
    @classmethod
    def _url(cls, wert: str) -> str:
        try:
            adresse = make_url(wert)
        except (ArgumentError, ValueError):  # ValueError: etwa ein Port, der keine Zahl ist
            raise ValueError("keine gültige Datenbank-URL") from None
        treiber = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
        backend = adresse.get_backend_name()
        if backend not in treiber:
            raise ValueError("nur SQLite und PostgreSQL werden unterstützt")
        # Kurzformen wie postgresql://… bekommen den asynchronen Treiber.
        return adresse.set(drivername=f"{backend}+{treiber[backend]}").render_as_string(
            hide_password=False
        )


class BotEinstellungen(_Abschnitt):
    zeitzone: str = "Europe/Berlin"
    befehlspraefix: str = "!"
    stabsstelle_raum: Raumadresse | None = None
    strukturdatei: Path | None = None
    # Wie viele Nachrichten einer Person auf einmal behandelt werden, bevor die Drossel sie
    # übergeht (bot/drossel.py); 0 schaltet die Flutgrenze ab, etwa für Messungen.
    flut_stoss: int = Field(default=STOSS, ge=0, le=100_000)
    # Nach so vielen Tagen löscht der Bot behandelte Ereignisse und erledigte Nachrichten des
    # Ausgangskorbs (täglich um 03:30 Ortszeit; modelle/aufbewahrung.py). Mindestens zwei Wochen,
    # damit Antworten auf die Abfrage der Vorwoche noch als Meldung zählen.
    aufbewahrung_tage: int = Field(default=90, ge=14, le=36_500)
    # "json": jede Logzeile ein JSON-Objekt (für einen Log-Sammler), sonst Text.
    protokollformat: str = "text"

    @field_validator("zeitzone")
    @classmethod
    def _zeitzone(cls, wert: str) -> str:
        try:
            zoneinfo.ZoneInfo(wert)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError("unbekannte Zeitzone (z. B. Europe/Berlin)") from None
        return wert

    @field_validator("protokollformat")
    @classmethod
    def _protokollformat(cls, wert: str) -> str:
        if wert not in ("text", "json"):
            raise ValueError("„text“ oder „json“")
        return wert

    @field_validator("befehlspraefix")
    @classmethod
    def _praefix(cls, wert: str) -> str:
        if not 1 <= len(wert) <= 3 or any(z.isspace() or z.isalnum() for z in wert):
            raise ValueError("ein bis drei Satzzeichen, z. B. „!“")
        return wert


class ZeitplanEinstellungen(_Abschnitt):
    abfrage: Zeitplantext = "mo 09:00"
    wochenbericht: Zeitplantext = "fr 14:00"
    erinnerung: Zeitplantext = "täglich 10:00"
    # Wie lange nach dem Termin eine verpasste Abfrage oder ein Bericht noch nachgeholt wird.
    nachholfrist_stunden: int = Field(default=12, ge=0, le=24 * 7)


def _rechnername() -> str:
    name = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:40].strip("-.")
    return name or "klimabot"


class InstanzEinstellungen(_Abschnitt):
    """Mehrere Instanzen auf einer Datenbank: genau eine ist aktiv, die übrigen warten in
    Bereitschaft (bot/bereitschaft.py)."""

    # Name dieser Instanz (Vorgabe: der Rechnername); jede Instanz ist ein eigenes Gerät.
    name: str = Field(default_factory=_rechnername, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
    # Ist schon eine Instanz aktiv: warten und übernehmen (true) oder mit Code 2 enden (false).
    bereitschaft: bool = True


class UeberwachungEinstellungen(_Abschnitt):
    """HTTP-Zugang für `/health`, `/ready` und `/metrics` (bot/ueberwachung.py)."""

    eingeschaltet: bool = False
    adresse: str = "127.0.0.1"
    # 0: ein freier Port (für Tests); die Adresse steht dann im Protokoll.
    port: int = Field(default=9464, ge=0, le=65535)
    # /ready meldet 503, wenn der letzte gelungene Sync länger her ist (Long-Poll: 30 s) …
    sync_hoechstens_s: int = Field(default=120, ge=1)
    # … oder der älteste offene Eintrag im Ausgangskorb älter ist.
    ausgang_hoechstens_s: int = Field(default=300, ge=1)

    @field_validator("adresse")
    @classmethod
    def _adresse(cls, wert: str) -> str:
        try:
            ipaddress.ip_address(wert)
        except ValueError:
            raise ValueError("keine IP-Adresse (z. B. 127.0.0.1)") from None
        return wert


class DashboardEinstellungen(_Abschnitt):
    """Das Klimadashboard, das der laufende Bot selbst aktuell hält (bot/dashboard.py)."""

    # Ohne Ordner schreibt der Bot keins; `klimabot dashboard` geht immer.
    ordner: Path | None = None
    # Mit Herausforderungen und Namen (nur für einen internen Ordner).
    intern: bool = False
    zeitplan: Zeitplantext = "täglich 06:00"
    wochen: int = Field(default=12, ge=1, le=104)


class Einstellungen(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KLIMABOT_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    matrix: MatrixEinstellungen | None = None
    datenbank: DatenbankEinstellungen = DatenbankEinstellungen()
    bot: BotEinstellungen = BotEinstellungen()
    zeitplan: ZeitplanEinstellungen = ZeitplanEinstellungen()
    ueberwachung: UeberwachungEinstellungen = UeberwachungEinstellungen()
    dashboard: DashboardEinstellungen = DashboardEinstellungen()
    instanz: InstanzEinstellungen = Field(default_factory=InstanzEinstellungen)

    def matrix_fuer_den_betrieb(self) -> MatrixEinstellungen:
        """Der Abschnitt `matrix`, vollständig für `klimabot run`; sonst `KonfigurationFehler`."""
        if self.matrix is None:
            raise KonfigurationFehler([MATRIX_FEHLT])
        if probleme := self.matrix.fehlende_geheimnisse():
            raise KonfigurationFehler(probleme)
        return self.matrix

    def geheimnisse(self) -> list[str | SecretStr | None]:
        """Was in keiner Logzeile erscheinen darf (siehe `bot.geheimnisse.schuetze_protokoll`)."""
        matrix = self.matrix
        return [
            make_url(self.datenbank.url).password,
            *((matrix.passwort, matrix.zugangstoken, matrix.schluesselpasswort) if matrix else ()),
        ]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Umgebung vor Datei: so kommen Geheimnisse nicht in die Datei.
        return env_settings, init_settings


def lade_einstellungen(pfad: Path | None = None) -> Einstellungen:
    """Liest die Konfiguration. Ohne `pfad` ist `config.toml` optional (nur Vorgaben + Umgebung)."""
    daten: dict[str, Any] = {}
    datei = pfad or STANDARD_PFAD
    if datei.exists():
        try:
            daten = tomllib.loads(datei.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as fehler:
            raise KonfigurationFehler([f"{datei}: ungültiges TOML ({_toml_ort(fehler)})"]) from None
        except (OSError, UnicodeDecodeError) as fehler:
            raise KonfigurationFehler([f"{datei}: nicht lesbar ({fehler})"]) from None
    elif pfad is not None:
        raise KonfigurationFehler([f"{datei}: Konfigurationsdatei nicht gefunden"])
    try:
        einstellungen = Einstellungen(**daten)
    except ValidationError as fehler:
        raise KonfigurationFehler([_problem(e) for e in fehler.errors()]) from None
    basis = datei.parent
    if (
        einstellungen.bot.strukturdatei is not None
        and not einstellungen.bot.strukturdatei.is_absolute()
    ):
        # Relative Pfade gelten von der Konfigurationsdatei aus, nicht vom Arbeitsverzeichnis.
        bot = einstellungen.bot.model_copy(
            update={"strukturdatei": basis / einstellungen.bot.strukturdatei}
        )
        einstellungen = einstellungen.model_copy(update={"bot": bot})
    ordner = einstellungen.dashboard.ordner
    if ordner is not None and not ordner.is_absolute():
        dashboard = einstellungen.dashboard.model_copy(update={"ordner": basis / ordner})
        einstellungen = einstellungen.model_copy(update={"dashboard": dashboard})
    matrix = einstellungen.matrix
    if matrix is not None and matrix.verschluesselung:
        speicher = matrix.schluesselspeicher
        if speicher is None:
            speicher = _neben_der_datenbank(einstellungen.datenbank.url) or Path(
                "klimabot-schluessel"
            )
        if not speicher.is_absolute():
            speicher = basis / speicher
        einstellungen = einstellungen.model_copy(
            update={"matrix": matrix.model_copy(update={"schluesselspeicher": speicher})}
        )
    return einstellungen


def dateien_des_bots(einstellungen: Einstellungen) -> list[Path]:
    """Was nur der Bot lesen darf: die SQLite-Datei samt Begleitdateien, der Schlüsselspeicher."""
    dateien: list[Path] = []
    datei = sqlite_datei(einstellungen.datenbank.url)
    if datei is not None:
        datei = datei.absolute()  # wie SQLite sie vom Arbeitsverzeichnis aus öffnet
        dateien += [datei, *(datei.with_name(datei.name + e) for e in ("-wal", "-shm", "-journal"))]
    matrix = einstellungen.matrix
    if matrix is not None and matrix.verschluesselung and matrix.schluesselspeicher is not None:
        dateien.append(matrix.schluesselspeicher)
    return dateien


def _neben_der_datenbank(url: str) -> Path | None:
    """Der Schlüsselspeicher neben einer SQLite-Datei: `klimabot.db` → `klimabot-schluessel/`."""
    adresse = make_url(url)
    if adresse.get_backend_name() != "sqlite" or adresse.database in (None, "", ":memory:"):
        return None
    datei = Path(adresse.database).resolve()
    return datei.with_name(f"{datei.stem}-schluessel")


def _toml_ort(fehler: tomllib.TOMLDecodeError) -> str:
    treffer = re.search(r"\(at line (\d+), column (\d+)\)", str(fehler))
    if treffer:
        return f"Zeile {treffer[1]}, Spalte {treffer[2]}"
    return str(fehler)


_GRUENDE = {
    "greater_than_equal": "ist zu klein",
    "less_than_equal": "ist zu groß",
    "extra_forbidden": "unbekannter Schlüssel",
    "missing": "fehlt",
    "string_type": "muss ein Text sein",
    "int_type": "muss eine ganze Zahl sein",
    "int_parsing": "muss eine ganze Zahl sein",
    "bool_type": "muss true oder false sein",
    "bool_parsing": "muss true oder false sein",
    "list_type": "muss eine Liste sein",
    "model_type": "muss ein Abschnitt sein",
    "dict_type": "muss ein Abschnitt sein",
    "path_type": "muss ein Pfad sein",
    "string_pattern_mismatch": "nur Buchstaben, Ziffern, Punkt, Binde- und Unterstrich (bis 40)",
}


def _problem(fehler: ErrorDetails) -> str:
    ort = [str(teil) for teil in fehler["loc"] if not isinstance(teil, int)]
    schluessel = ".".join(ort) or "(Datei)"
    if fehler["type"] in ("value_error", "assertion_error"):
        ursache = fehler.get("ctx", {}).get("error")
        grund = str(ursache) if ursache is not None else fehler["msg"]
    else:
        grund = _GRUENDE.get(fehler["type"], f"ungültiger Wert ({fehler['type']})")
    if fehler["type"] == "missing" or not ort or isinstance(fehler["input"], dict):
        # Bei einem ganzen Abschnitt nennt der Grund selbst den Schlüssel.
        return f"{schluessel}: {grund}"
    wert = "***" if ort[-1] in GEHEIME_SCHLUESSEL else _zeige(fehler["input"])
    return f"{schluessel} = {wert}: {grund}"


def _zeige(wert: object) -> str:
    if isinstance(wert, str):
        # Eine Datenbank-URL zeigt ihr Passwort nie, auch wenn sie sonst ungültig ist.
        return f'"{ohne_url_passwort(wert)}"'
    if isinstance(wert, dict):
        return "{…}"
    return repr(wert)
