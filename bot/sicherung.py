"""Sicherung und Wiederherstellung: SQLite-Datenbank und Schlüsselspeicher in einem Archiv
(tar.gz mit Manifest), auch während der Bot läuft.

Konsistent heißt hier zweierlei:

- Jede SQLite-Datei – die Datenbank des Bots wie nios Schlüsseldatenbanken – wird über die
  Backup-Schnittstelle von SQLite kopiert, nie als Datei: eine Dateikopie während eines
  Schreibens, oder ohne das WAL, ist eine kaputte oder veraltete Datenbank.
- Datenbank und Schlüsselspeicher stammen aus demselben Augenblick. Erst hält eine
  Lesetransaktion den Stand der Datenbank fest, unmittelbar danach je eine den jeder
  Schlüsseldatenbank; kopiert wird aus diesen festgehaltenen Ständen (die Backup-Schnittstelle
  liest in einer offenen Lesetransaktion der Quelle). Die Reihenfolge ist gewollt: der
  laufende Bot legt empfangene Raumschlüssel im Schlüsselspeicher ab, bevor er die
  Sync-Position in der Datenbank weiterschreibt. Ist der gesicherte Schlüsselspeicher
  Augenblicke neuer als die Datenbank, fehlt ihm kein Schlüssel, den die gesicherte Position
  schon hinter sich hat; umgekehrt fehlten welche, denn der Homeserver liefert
  To-Device-Nachrichten nur einmal.

Gesperrt wird dabei kaum: die Datenbank des Bots (WAL) gar nicht, eine Schlüsseldatenbank
(nios Journal-Modus DELETE) nur für ihre eigene Kopie, Millisekunden lang.

Bei PostgreSQL sichert `pg_dump` die Datenbank (README, „Betrieb“) und diese Sicherung nur
den Schlüsselspeicher – unmittelbar nach dem Dump, aus demselben Grund.

Jede Kopie besteht `PRAGMA quick_check`, bevor sie ins Archiv kommt. Die Wiederherstellung
schreibt nur in einen leeren Ort und erst, wenn alles ausgepackt ist und zu den Prüfsummen
des Manifests passt; Schlüsselspeicher vor Datenbank, damit ein Abbruch dazwischen nie eine
Datenbank ohne die Schlüssel ihres Geräts hinterlässt.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path, PurePosixPath
from typing import IO, Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError
from sqlalchemy.engine import make_url

from bot.config import Einstellungen
from bot.geheimnisse import lege_ordner_an
from modelle.datenbank import sqlite_datei

FORMAT = 1
MANIFEST = "manifest.json"
DATENBANK = "datenbank"
SCHLUESSELSPEICHER = "schluesselspeicher"
# Begleitdateien einer SQLite-Datenbank: ihren Inhalt liest die Backup-Schnittstelle mit.
_BEGLEITDATEIEN = ("-wal", "-shm", "-journal")
_SQLITE_KENNUNG = b"SQLite format 3\x00"
# So lange wartet die Kopie, wenn der Bot gerade schreibt (er wartet ebenso auf sie).
_WARTEZEIT_S = 15.0
_BLOCK = 1 << 20


class SicherungFehler(Exception):
    """Sichern oder Wiederherstellen geht so nicht; die Nachricht sagt auf Deutsch, warum."""


class Eintrag(BaseModel):
    """Eine Datei im Archiv."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str  # Pfad im Archiv: datenbank/<Datei> oder schluesselspeicher/<Pfad im Ordner>
    bytes: int
    sha256: str
    sqlite: bool


class Manifest(BaseModel):
    """Was im Archiv steht (`manifest.json`, die erste Datei darin)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: int
    erstellt: AwareDatetime
    klimabot: str
    # Das Bot-Konto, dem der Schlüsselspeicher gehört (None: ohne Matrix-Abschnitt gesichert).
    benutzer: str | None
    datenbank: Literal["sqlite", "postgresql"]
    dateien: list[Eintrag]

    @property
    def datenbankdatei(self) -> Eintrag | None:
        return next((e for e in self.dateien if _teil(e.name) == DATENBANK), None)

    @property
    def schluesseldateien(self) -> list[Eintrag]:
        return [e for e in self.dateien if _teil(e.name) == SCHLUESSELSPEICHER]


@dataclass(frozen=True)
class Orte:
    """Wo Datenbank und Schlüsselspeicher laut Konfiguration liegen."""

    # Die SQLite-Datei; None bei PostgreSQL (die sichert pg_dump).
    datenbank: Path | None
    # None ohne Verschlüsselung: dann gibt es keinen.
    schluesselspeicher: Path | None
    benutzer: str | None

    @classmethod
    def aus(cls, einstellungen: Einstellungen) -> Orte:
        url = einstellungen.datenbank.url
        datei = sqlite_datei(url)
        if make_url(url).get_backend_name() == "sqlite" and datei is None:
            raise SicherungFehler(
                "datenbank.url: nur eine SQLite-Datei lässt sich sichern und wiederherstellen "
                "(keine :memory:- oder file:-Adresse)"
            )
        matrix = einstellungen.matrix
        speicher = matrix.schluesselspeicher if matrix and matrix.verschluesselung else None
        return cls(
            datenbank=datei.absolute() if datei is not None else None,
            schluesselspeicher=speicher.absolute() if speicher is not None else None,
            benutzer=matrix.benutzer if matrix else None,
        )


async def sichere(einstellungen: Einstellungen, ziel: Path) -> Manifest:
    """Schreibt die Sicherung nach `ziel` (tar.gz, nur für dieses Konto lesbar).

    Überschreibt nichts; `ziel` erscheint erst, wenn das Archiv vollständig ist. Die Arbeit
    läuft in einem eigenen Thread mit eigenen, synchronen SQLite-Verbindungen.
    """
    orte = Orte.aus(einstellungen)
    return await asyncio.to_thread(_sichere, orte, ziel, dt.datetime.now(dt.UTC))


async def stelle_wieder_her(einstellungen: Einstellungen, quelle: Path) -> Manifest:
    """Stellt die Sicherung `quelle` an den konfigurierten, leeren Orten wieder her."""
    orte = Orte.aus(einstellungen)
    return await asyncio.to_thread(_stelle_wieder_her, orte, quelle)


def bericht_der_sicherung(manifest: Manifest, ziel: Path, zeitzone: ZoneInfo) -> str:
    """Was `klimabot sicherung` danach sagt."""
    zeilen = [f"Sicherung geschrieben: {ziel} (Stand {_zeitpunkt(manifest, zeitzone)})"]
    datenbank = manifest.datenbankdatei
    if datenbank is not None:
        zeilen.append(f"  Datenbank: {PurePosixPath(datenbank.name).name} ({_groesse(datenbank)})")
    zeilen.append(f"  Schlüsselspeicher: {_anzahl(manifest.schluesseldateien)}")
    if manifest.datenbank == "postgresql":
        zeilen.append(
            "Die Datenbank (PostgreSQL) ist nicht darin: sie wird mit pg_dump gesichert, "
            "unmittelbar vor diesem Befehl (siehe README, „Betrieb“)."
        )
    return "\n".join(zeilen)


def bericht_der_wiederherstellung(
    manifest: Manifest, quelle: Path, orte: Orte, zeitzone: ZoneInfo
) -> str:
    """Was `klimabot wiederherstellen` danach sagt."""
    zeilen = [f"Wiederhergestellt aus {quelle} (Stand {_zeitpunkt(manifest, zeitzone)}):"]
    if manifest.datenbankdatei is not None:
        zeilen.append(f"  Datenbank → {orte.datenbank}")
    if manifest.schluesseldateien:
        zeilen.append(
            f"  Schlüsselspeicher → {orte.schluesselspeicher} "
            f"({_anzahl(manifest.schluesseldateien)})"
        )
        zeilen.append(
            "Der Bot startet damit als dasselbe Gerät, wenn matrix.schluesselpasswort dasselbe "
            "ist wie beim Sichern."
        )
    if manifest.datenbank == "postgresql":
        zeilen.append(
            "Die Datenbank (PostgreSQL) stellt pg_restore wieder her, aus dem Dump vom selben "
            "Zeitpunkt (siehe README, „Betrieb“) – vor dem ersten Start des Bots."
        )
    return "\n".join(zeilen)


# --- Sichern ---------------------------------------------------------------------------------


def _sichere(orte: Orte, ziel: Path, jetzt: dt.datetime) -> Manifest:
    ziel = ziel.absolute()
    if ziel.exists():
        raise SicherungFehler(f"{ziel}: gibt es schon – eine Sicherung überschreibt nichts")
    if not ziel.parent.is_dir():
        raise SicherungFehler(f"{ziel.parent}: Ordner gibt es nicht")
    if orte.datenbank is not None and not orte.datenbank.is_file():
        raise SicherungFehler(f"{orte.datenbank}: Datenbank gibt es nicht – nichts zu sichern")
    speicher = orte.schluesselspeicher
    if speicher is not None and not speicher.is_dir():
        speicher = None  # der Bot lief hier noch nie verschlüsselt
    if orte.datenbank is None and speicher is None:
        raise SicherungFehler(
            "Nichts zu sichern: die Datenbank ist PostgreSQL (sie sichert pg_dump), und einen "
            f"Schlüsselspeicher gibt es nicht ({orte.schluesselspeicher or 'ohne Verschlüsselung'})"
        )
    schluesseldateien = _dateien_im_ordner(speicher) if speicher is not None else []

    # Im Zielordner gearbeitet: dasselbe Dateisystem wie das Archiv (/tmp ist oft klein).
    with tempfile.TemporaryDirectory(dir=ziel.parent, prefix=".klimabot-sicherung-") as ordner:
        arbeit = Path(ordner)
        kopien: list[tuple[str, bool]] = []  # (Name im Archiv = Pfad in `arbeit`, SQLite?)
        with contextlib.ExitStack() as offen:
            # Erst die Datenbank festhalten, dann die Schlüsseldatenbanken (siehe oben).
            datenbank = (
                offen.enter_context(_festgehalten(orte.datenbank))
                if orte.datenbank is not None
                else None
            )
            festgehalten = [
                (datei, offen.enter_context(_festgehalten(datei)) if _ist_sqlite(datei) else None)
                for datei in schluesseldateien
            ]
            for datei, verbindung in festgehalten:
                assert speicher is not None
                name = f"{SCHLUESSELSPEICHER}/{datei.relative_to(speicher).as_posix()}"
                if verbindung is None:
                    _kopiere_datei(datei, arbeit / name)
                else:
                    _kopiere_sqlite(verbindung, datei, arbeit / name)
                    verbindung.close()  # gibt die Schlüsseldatenbank gleich wieder frei
                kopien.append((name, verbindung is not None))
            if datenbank is not None and orte.datenbank is not None:
                name = f"{DATENBANK}/{orte.datenbank.name}"
                _kopiere_sqlite(datenbank, orte.datenbank, arbeit / name)
                kopien.append((name, True))
        for name, ist_sqlite in kopien:
            if ist_sqlite:
                _pruefe_sqlite(arbeit / name, name)
        manifest = Manifest(
            format=FORMAT,
            erstellt=jetzt,
            klimabot=_fassung(),
            benutzer=orte.benutzer,
            datenbank="sqlite" if orte.datenbank is not None else "postgresql",
            dateien=[_eintrag(arbeit / name, name, ist_sqlite) for name, ist_sqlite in kopien],
        )
        archiv = arbeit / "archiv.tar.gz"
        _schreibe_archiv(archiv, manifest, arbeit)
        _lege_ab(archiv, ziel)
    return manifest


def _dateien_im_ordner(ordner: Path) -> list[Path]:
    return sorted(
        pfad
        for pfad in ordner.rglob("*")
        if pfad.is_file() and not pfad.is_symlink() and not pfad.name.endswith(_BEGLEITDATEIEN)
    )


def _ist_sqlite(datei: Path) -> bool:
    with datei.open("rb") as inhalt:
        return inhalt.read(len(_SQLITE_KENNUNG)) == _SQLITE_KENNUNG


@contextlib.contextmanager
def _festgehalten(datei: Path) -> Iterator[sqlite3.Connection]:
    """Eine eigene Verbindung, deren Lesetransaktion den jetzigen Stand von `datei` festhält.

    `mode=rw`: eine fehlende Datei wird nicht angelegt. Ohne `isolation_level` beginnt das
    Modul sqlite3 keine Transaktionen selbst; diese beginnt BEGIN, das erste Lesen hält fest.
    """
    try:
        verbindung = sqlite3.connect(
            f"{datei.as_uri()}?mode=rw", uri=True, timeout=_WARTEZEIT_S, isolation_level=None
        )
    except sqlite3.Error as fehler:
        raise SicherungFehler(f"{datei}: nicht zu öffnen ({fehler})") from None
    try:
        try:
            verbindung.execute("BEGIN")
            verbindung.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as fehler:
            raise SicherungFehler(f"{datei}: nicht lesbar ({fehler})") from None
        yield verbindung
    finally:
        verbindung.close()


def _neue_datei(pfad: Path) -> IO[bytes]:
    """Legt `pfad` neu an, nur für dieses Konto lesbar (0600, gleich welche umask)."""
    lege_ordner_an(pfad.parent)
    return os.fdopen(os.open(pfad, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _kopiere_sqlite(quelle: sqlite3.Connection, herkunft: Path, kopie: Path) -> None:
    _neue_datei(kopie).close()
    ziel = sqlite3.connect(kopie)
    try:
        quelle.backup(ziel)  # alles in einem Schritt, im festgehaltenen Stand der Quelle
    except sqlite3.Error as fehler:
        raise SicherungFehler(f"{herkunft}: Kopie gescheitert ({fehler})") from None
    finally:
        ziel.close()


def _kopiere_datei(quelle: Path, kopie: Path) -> None:
    # Keine SQLite-Datei (nios SqliteStore legt keine an): so, wie sie gerade ist.
    with quelle.open("rb") as lesen, _neue_datei(kopie) as schreiben:
        shutil.copyfileobj(lesen, schreiben, _BLOCK)


def _pruefe_sqlite(datei: Path, name: str) -> None:
    try:
        verbindung = sqlite3.connect(datei)
        try:
            ergebnis = [str(z[0]) for z in verbindung.execute("PRAGMA quick_check").fetchall()]
        finally:
            verbindung.close()
    except sqlite3.Error as fehler:
        ergebnis = [str(fehler)]
    if ergebnis != ["ok"]:
        raise SicherungFehler(f"{name}: die Kopie ist beschädigt ({'; '.join(ergebnis[:3])})")


def _eintrag(datei: Path, name: str, ist_sqlite: bool) -> Eintrag:
    pruefsumme = hashlib.sha256()
    with datei.open("rb") as inhalt:
        while block := inhalt.read(_BLOCK):
            pruefsumme.update(block)
    return Eintrag(
        name=name, bytes=datei.stat().st_size, sha256=pruefsumme.hexdigest(), sqlite=ist_sqlite
    )


def _tarinfo(name: str, groesse: int, zeitpunkt: dt.datetime) -> tarfile.TarInfo:
    # Besitzer 0 ohne Namen: beim Auspacken zählt, wer auspackt, nicht wer gesichert hat.
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = groesse, int(zeitpunkt.timestamp()), 0o600
    return info


def _schreibe_archiv(archiv: Path, manifest: Manifest, arbeit: Path) -> None:
    text = manifest.model_dump_json(indent=2).encode()
    with _neue_datei(archiv) as datei:
        with tarfile.open(fileobj=datei, mode="w:gz", compresslevel=6) as tar:
            tar.addfile(_tarinfo(MANIFEST, len(text), manifest.erstellt), io.BytesIO(text))
            for eintrag in manifest.dateien:
                with (arbeit / eintrag.name).open("rb") as inhalt:
                    tar.addfile(_tarinfo(eintrag.name, eintrag.bytes, manifest.erstellt), inhalt)
        datei.flush()
        os.fsync(datei.fileno())


def _lege_ab(archiv: Path, ziel: Path) -> None:
    """Gibt dem fertigen Archiv seinen Namen – nur, wenn es ihn noch nicht gibt."""
    try:
        os.link(archiv, ziel)
    except FileExistsError:
        raise SicherungFehler(
            f"{ziel}: gibt es schon – eine Sicherung überschreibt nichts"
        ) from None
    except OSError:
        # Ein Dateisystem ohne harte Links (manche Netzfreigaben).
        if ziel.exists():
            raise SicherungFehler(
                f"{ziel}: gibt es schon – eine Sicherung überschreibt nichts"
            ) from None
        os.replace(archiv, ziel)
    ordner = os.open(ziel.parent, os.O_RDONLY)
    try:
        os.fsync(ordner)  # der neue Name übersteht auch einen Stromausfall
    finally:
        os.close(ordner)


def _fassung() -> str:
    try:
        return version("klimabot")
    except PackageNotFoundError:
        return "unbekannt"


# --- Wiederherstellen ------------------------------------------------------------------------

# Was ein kaputtes oder abgeschnittenes Archiv beim Lesen wirft.
_LESEFEHLER = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


def _stelle_wieder_her(orte: Orte, quelle: Path) -> Manifest:
    if not quelle.is_file():
        raise SicherungFehler(f"{quelle}: Datei nicht gefunden")
    try:
        with tarfile.open(quelle, mode="r:gz") as tar:
            erstes = tar.next()
            manifest = _lies_manifest(tar, erstes, quelle)
            _pruefe_passend(manifest, orte)
            _pruefe_leer(orte)
            _entpacke(tar, erstes, manifest, orte, quelle)
    except _LESEFEHLER as fehler:
        raise SicherungFehler(
            f"{quelle}: keine lesbare Sicherung, beschädigt oder unvollständig ({fehler})"
        ) from None
    return manifest


def _teil(name: str) -> str:
    return name.partition("/")[0]


def _lies_manifest(tar: tarfile.TarFile, info: tarfile.TarInfo | None, quelle: Path) -> Manifest:
    datei = tar.extractfile(info) if info is not None and info.name == MANIFEST else None
    if datei is None:
        raise SicherungFehler(f"{quelle}: keine Sicherung des Klimabots ({MANIFEST} fehlt)")
    try:
        daten = json.loads(datei.read())
    except ValueError:
        raise SicherungFehler(f"{quelle}: {MANIFEST} ist kein JSON") from None
    fassung = daten.get("format") if isinstance(daten, dict) else None
    if isinstance(fassung, int) and fassung > FORMAT:
        raise SicherungFehler(
            f"{quelle}: Format {fassung} ist neuer als diese Fassung des Klimabots "
            f"(sie kennt Format {FORMAT}); bitte mit der Fassung wiederherstellen, die sicherte"
        )
    try:
        manifest = Manifest.model_validate(daten)
    except ValidationError as fehler:
        raise SicherungFehler(
            f"{quelle}: {MANIFEST} ist ungültig ({fehler.errors()[0]['msg']})"
        ) from None
    namen = [e.name for e in manifest.dateien]
    datenbanken = [n for n in namen if _teil(n) == DATENBANK]
    if (
        fassung != FORMAT
        or len(set(namen)) != len(namen)
        or not all(_sicherer_name(n) for n in namen)
        or len(datenbanken) != (1 if manifest.datenbank == "sqlite" else 0)
    ):
        raise SicherungFehler(f"{quelle}: {MANIFEST} passt nicht zum Format {FORMAT}")
    return manifest


def _sicherer_name(name: str) -> bool:
    """Nur `datenbank/<Datei>` und `schluesselspeicher/<Pfad darunter>`, nichts außerhalb."""
    teile = name.split("/")
    if any(t in ("", ".", "..") for t in teile) or "\\" in name:
        return False
    if teile[0] == DATENBANK:
        return len(teile) == 2
    return teile[0] == SCHLUESSELSPEICHER and len(teile) >= 2


def _pruefe_passend(manifest: Manifest, orte: Orte) -> None:
    probleme: list[str] = []
    if manifest.datenbank == "sqlite" and orte.datenbank is None:
        probleme.append(
            "Die Sicherung enthält eine SQLite-Datenbank, konfiguriert ist PostgreSQL "
            "(datenbank.url)."
        )
    if manifest.datenbank == "postgresql" and orte.datenbank is not None:
        probleme.append(
            "Die Sicherung stammt von einem Bot mit PostgreSQL und enthält keine Datenbank "
            "(die stellt pg_restore wieder her); konfiguriert ist SQLite (datenbank.url)."
        )
    if manifest.schluesseldateien and orte.schluesselspeicher is None:
        probleme.append(
            "Die Sicherung enthält einen Schlüsselspeicher, die Konfiguration keinen "
            "(kein [matrix]-Abschnitt oder matrix.verschluesselung = false)."
        )
    if manifest.benutzer and orte.benutzer and manifest.benutzer != orte.benutzer:
        probleme.append(
            f"Die Sicherung gehört zum Bot-Konto {manifest.benutzer}, konfiguriert ist "
            f"{orte.benutzer} (matrix.benutzer)."
        )
    if probleme:
        raise SicherungFehler("\n".join(probleme))


def _belegt(pfad: Path) -> bool:
    if pfad.is_dir():
        return any(pfad.iterdir())
    return pfad.exists() and pfad.stat().st_size > 0


def _pruefe_leer(orte: Orte) -> None:
    belegt: list[Path] = []
    if orte.datenbank is not None:
        # Ein altes WAL neben einer neuen Datei spielte SQLite in sie hinein; -shm baut es neu.
        for endung in ("", "-wal", "-journal"):
            datei = orte.datenbank.with_name(orte.datenbank.name + endung)
            if _belegt(datei):
                belegt.append(datei)
    if orte.schluesselspeicher is not None and (
        _belegt(orte.schluesselspeicher)
        or (orte.schluesselspeicher.exists() and not orte.schluesselspeicher.is_dir())
    ):
        belegt.append(orte.schluesselspeicher)
    if belegt:
        raise SicherungFehler(
            "Wiederherstellen überschreibt nichts, hier liegt aber schon etwas:\n"
            + "".join(f"  {pfad}\n" for pfad in belegt)
            + "Bitte einen leeren Ort konfigurieren (datenbank.url, matrix.schluesselspeicher) "
            "oder das Vorhandene erst beiseiteräumen."
        )


def _entpacke(
    tar: tarfile.TarFile,
    erstes: tarfile.TarInfo | None,
    manifest: Manifest,
    orte: Orte,
    quelle: Path,
) -> None:
    """Packt alles neben den Zielen aus, prüft es und gibt ihm dann erst seinen Platz."""
    erwartet = {e.name: e for e in manifest.dateien}
    with contextlib.ExitStack() as aufraeumen:
        ablagen: dict[str, Path] = {}  # Teil → Ordner neben dem Ziel, aufgeräumt am Ende
        for teil, ziel in (
            (SCHLUESSELSPEICHER, orte.schluesselspeicher),
            (DATENBANK, orte.datenbank),
        ):
            if ziel is None or not any(_teil(n) == teil for n in erwartet):
                continue
            lege_ordner_an(ziel.parent)
            ablage = Path(tempfile.mkdtemp(dir=ziel.parent, prefix=f".{ziel.name}.neu-"))
            aufraeumen.callback(shutil.rmtree, ablage, ignore_errors=True)
            ablagen[teil] = ablage
        gesehen: set[str] = set()
        for info in tar:
            if info is erstes:
                continue  # das Manifest, schon gelesen (die Schleife beginnt wieder vorn)
            eintrag = erwartet.get(info.name)
            if eintrag is None or info.name in gesehen or not info.isfile():
                raise SicherungFehler(f"{quelle}: unerwarteter Eintrag {info.name} im Archiv")
            gesehen.add(info.name)
            teil, _, rest = info.name.partition("/")
            _packe_aus(tar, info, ablagen[teil] / rest, eintrag, quelle)
        if fehlend := sorted(erwartet.keys() - gesehen):
            raise SicherungFehler(f"{quelle}: unvollständig, es fehlt {', '.join(fehlend)}")
        # Erst der Schlüsselspeicher, dann die Datenbank (siehe oben).
        if orte.schluesselspeicher is not None and SCHLUESSELSPEICHER in ablagen:
            if orte.schluesselspeicher.is_dir():
                orte.schluesselspeicher.rmdir()  # leer, siehe _pruefe_leer
            ablagen[SCHLUESSELSPEICHER].rename(orte.schluesselspeicher)
        if orte.datenbank is not None and DATENBANK in ablagen:
            datenbank = manifest.datenbankdatei
            assert datenbank is not None
            (ablagen[DATENBANK] / datenbank.name.partition("/")[2]).replace(orte.datenbank)


def _packe_aus(
    tar: tarfile.TarFile, info: tarfile.TarInfo, ziel: Path, eintrag: Eintrag, quelle: Path
) -> None:
    inhalt = tar.extractfile(info)
    assert inhalt is not None  # eine gewöhnliche Datei, siehe _entpacke
    pruefsumme, groesse = hashlib.sha256(), 0
    with _neue_datei(ziel) as schreiben:
        while block := inhalt.read(_BLOCK):
            pruefsumme.update(block)
            groesse += len(block)
            schreiben.write(block)
        schreiben.flush()
        os.fsync(schreiben.fileno())
    if groesse != eintrag.bytes or pruefsumme.hexdigest() != eintrag.sha256:
        raise SicherungFehler(f"{quelle}: {info.name} ist beschädigt (Prüfsumme stimmt nicht)")


# --- Schreibweisen ---------------------------------------------------------------------------


def _zeitpunkt(manifest: Manifest, zeitzone: ZoneInfo) -> str:
    return manifest.erstellt.astimezone(zeitzone).strftime("%d.%m.%Y %H:%M:%S")


def _groesse(eintrag: Eintrag) -> str:
    if eintrag.bytes >= 1_000_000:
        return f"{eintrag.bytes / 1_000_000:.1f} MB".replace(".", ",")
    return f"{max(1, round(eintrag.bytes / 1000))} kB"


def _anzahl(eintraege: list[Eintrag]) -> str:
    if not eintraege:
        return "keiner (ohne Verschlüsselung oder noch nie verschlüsselt gelaufen)"
    return "1 Datei" if len(eintraege) == 1 else f"{len(eintraege)} Dateien"
