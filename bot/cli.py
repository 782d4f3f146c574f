"""Die Kommandozeile `klimabot`.

Exit-Codes: 0 in Ordnung, 2 ungültige Konfiguration oder Eingabe (mit Begründung), 1 unerwartet.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import logging
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from befehle import schreibweise
from befehle.berichtsausgabe import als_json, als_text
from befehle.dashboardseite import schreibe_aus
from befehle.klimabericht import bilderordner, kapitel_text, schreibe_kapitel
from befehle.seiten import ersetze_atomar
from bot.anmeldung import AnmeldungFehlgeschlagen
from bot.app import betreibe
from bot.bereitschaft import AndereInstanzAktiv, SperreVerloren
from bot.config import (
    MATRIX_FEHLT,
    Einstellungen,
    InstanzEinstellungen,
    KonfigurationFehler,
    dateien_des_bots,
    lade_einstellungen,
)
from bot.deutscher_parser import DeutscherParser
from bot.geheimnisse import richte_protokoll_ein, schuetze_protokoll, zu_offene_dateien
from bot.protokoll import stelle_format_ein
from bot.raeume import fremde_mitglieder, strukturraeume
from bot.sicherung import (
    Orte,
    SicherungFehler,
    bericht_der_sicherung,
    bericht_der_wiederherstellung,
    sichere,
    stelle_wieder_her,
)
from modelle.berichtsdaten import stelle_wochenbericht_zusammen
from modelle.dashboarddaten import WOCHEN
from modelle.datenbank import (
    Sitzungsfabrik,
    erzeuge_engine,
    erzeuge_sitzungsfabrik,
    kurzer_grund,
    sqlite_datei,
)
from modelle.klimabericht import stelle_kapitel_zusammen
from modelle.migration import aktualisiere_schema
from modelle.statusexport import schreibe_export, statusmeldungen_fuer_export
from modelle.strukturdatei import StrukturFehler, lies_struktur
from modelle.strukturexport import exportiere_struktur
from modelle.strukturimport import importiere_struktur

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_UNERWARTET = 1
EXIT_EINGABE = 2

# Diese Befehle legen Datenbank, Schlüsselspeicher und Strukturexporte an. Die umask macht
# alles, was dabei entsteht, nur für das Konto des Bots lesbar – auch, was Bibliotheken
# selbst anlegen (nios Schlüsseldatenbank, Begleitdateien von SQLite). Wo der Bot selbst
# anlegt, setzt er die Rechte zusätzlich ausdrücklich: das gilt auch ohne diese CLI.
NUR_FUER_DEN_BOT = {"run", "db", "struktur", "sicherung", "wiederherstellen"}


def _version() -> str:
    try:
        return version("klimabot")
    except PackageNotFoundError:  # aus dem Quellbaum ohne Installation
        return "(nicht installiert)"


def _parser() -> argparse.ArgumentParser:
    gemeinsam = DeutscherParser(add_help=False)
    gemeinsam.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="DATEI",
        help="Konfigurationsdatei (Vorgabe: config.toml, falls vorhanden)",
    )
    parser = DeutscherParser(
        prog="klimabot",
        description="Klimabot – Themenpat*innenmodell im Messenger",
        # Die Vorführung ist eine eigene Anwendung (demo/), nicht Teil des Bots.
        epilog="Vorführung auf einem Wegwerf-Homeserver: klimabot-demo (oder make demo)",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {_version()}",
        help="Version zeigen und beenden",
    )
    befehle = parser.add_subparsers(dest="befehl", required=True, metavar="BEFEHL")

    check = befehle.add_parser(
        "check", parents=[gemeinsam], help="Konfiguration und Strukturdatei prüfen"
    )
    check.add_argument(
        "--fuer-run",
        action="store_true",
        help="fehlende Geheimnisse für run (Passwort/Zugangstoken, Schlüsselpasswort) sind "
        "Fehler statt Warnungen – in der Umgebung des Dienstes aufrufen",
    )
    check.set_defaults(ausfuehren=_check)
    run = befehle.add_parser(
        "run", parents=[gemeinsam], help="den Bot betreiben (bis SIGTERM/Strg+C)"
    )
    run.add_argument(
        "--instanz",
        default=None,
        metavar="NAME",
        help="Name dieser Instanz, jede ist ein eigenes Gerät (Vorgabe: instanz.name)",
    )
    run.add_argument(
        "--einmalig",
        action="store_true",
        help="ist schon eine Instanz aktiv, mit Exit-Code 2 enden statt in Bereitschaft warten",
    )
    run.set_defaults(ausfuehren=_run)

    db = befehle.add_parser("db", help="Datenbank verwalten").add_subparsers(
        dest="db_befehl", required=True, metavar="BEFEHL"
    )
    db.add_parser(
        "upgrade", parents=[gemeinsam], help="ausstehende Migrationen anwenden"
    ).set_defaults(ausfuehren=_db_upgrade)

    struktur = befehle.add_parser("struktur", help="Patenschaftsstruktur verwalten")
    struktur_befehle = struktur.add_subparsers(
        dest="struktur_befehl", required=True, metavar="BEFEHL"
    )
    importieren = struktur_befehle.add_parser(
        "import", parents=[gemeinsam], help="Strukturdatei (TOML) prüfen und übernehmen"
    )
    importieren.add_argument("datei", type=Path, metavar="DATEI")
    importieren.add_argument(
        "--wer", default=None, help="wer die Änderung verantwortet (Vorgabe: Benutzername)"
    )
    importieren.set_defaults(ausfuehren=_struktur_import)
    exportieren = struktur_befehle.add_parser(
        "export", parents=[gemeinsam], help="aktuelle Struktur als TOML ausgeben"
    )
    exportieren.add_argument(
        "-o", "--ausgabe", type=Path, default=None, metavar="DATEI", help="in Datei statt Ausgabe"
    )
    exportieren.set_defaults(ausfuehren=_struktur_export)

    bericht = befehle.add_parser(
        "bericht",
        parents=[gemeinsam],
        help=(
            "den Wochenbericht ausgeben, der jetzt gesendet würde; mit --format html oder md "
            "das Kapitel für den Klimabericht"
        ),
    )
    bericht.add_argument(
        "--seit",
        metavar="DATUM",
        help="erster Tag des Zeitraums, TT.MM.JJJJ oder JJJJ-MM-TT (Vorgabe: 7 Tage vor dem Ende)",
    )
    bericht.add_argument(
        "--bis",
        metavar="DATUM",
        help="letzter Tag des Zeitraums, einschließlich (Vorgabe: bis jetzt)",
    )
    bericht.add_argument(
        "--format",
        choices=("text", "json", "html", "md"),
        default="text",
        help=(
            "text oder json: der Wochenbericht; html oder md: das Kapitel für den Klimabericht, "
            "die Diagramme als Bilder in DATEI-bilder/ daneben (Vorgabe: text)"
        ),
    )
    bericht.add_argument(
        "-o",
        "--ausgabe",
        type=Path,
        default=None,
        metavar="DATEI",
        help=(
            "in DATEI statt auf die Standardausgabe; html ohne -o schreibt "
            "klimabericht-SEIT-bis-BIS.html ins aktuelle Verzeichnis, md ohne -o hat keine Bilder"
        ),
    )
    bericht.set_defaults(ausfuehren=_bericht)

    dashboard = befehle.add_parser(
        "dashboard",
        parents=[gemeinsam],
        help="das Klimadashboard als statische Seite schreiben (ORDNER/index.html)",
    )
    dashboard.add_argument(
        "-o", "--ausgabe", type=Path, required=True, metavar="ORDNER", help="Zielordner"
    )
    dashboard.add_argument(
        "--intern",
        action="store_true",
        help="mit Herausforderungen und Namen (Vorgabe: öffentlich, ohne Personen und Freitexte)",
    )
    dashboard.add_argument(
        "--wochen", type=int, default=WOCHEN, metavar="N", help=f"Verlauf (Vorgabe: {WOCHEN})"
    )
    dashboard.set_defaults(ausfuehren=_dashboard)

    export = befehle.add_parser(
        "export", parents=[gemeinsam], help="alle Statusmeldungen als CSV oder JSON ausgeben"
    )
    export.add_argument("--format", choices=("csv", "json"), required=True)
    export.add_argument(
        "-o", "--ausgabe", type=Path, default=None, metavar="DATEI", help="in Datei statt Ausgabe"
    )
    export.set_defaults(ausfuehren=_export)

    sicherung = befehle.add_parser(
        "sicherung",
        parents=[gemeinsam],
        help="Datenbank (SQLite) und Schlüsselspeicher in ein Archiv sichern, auch im Betrieb",
    )
    sicherung.add_argument("datei", type=Path, metavar="DATEI", help="neues Archiv (.tar.gz)")
    sicherung.set_defaults(ausfuehren=_sicherung)
    wiederherstellen = befehle.add_parser(
        "wiederherstellen",
        parents=[gemeinsam],
        help="eine Sicherung an den konfigurierten, leeren Orten wiederherstellen",
    )
    wiederherstellen.add_argument("datei", type=Path, metavar="DATEI", help="das Archiv")
    wiederherstellen.set_defaults(ausfuehren=_wiederherstellen)
    return parser


def main(argv: list[str] | None = None) -> int:
    richte_protokoll_ein()
    argumente = _parser().parse_args(argv)
    ausfuehren: Callable[[argparse.Namespace], int] = argumente.ausfuehren
    umask = os.umask(0o077) if argumente.befehl in NUR_FUER_DEN_BOT else None
    try:
        return ausfuehren(argumente)
    except (KonfigurationFehler, StrukturFehler) as fehler:
        for problem in fehler.probleme:
            print(problem, file=sys.stderr)
        return EXIT_EINGABE
    except AnmeldungFehlgeschlagen as fehler:
        print(f"Anmeldung am Homeserver unmöglich: {fehler}", file=sys.stderr)
        return EXIT_EINGABE
    except AndereInstanzAktiv as fehler:
        print(fehler, file=sys.stderr)
        return EXIT_EINGABE
    except SperreVerloren as fehler:
        print(f"Instanz beendet, Sperre verloren: {fehler}", file=sys.stderr)
        return EXIT_UNERWARTET
    except BrokenPipeError:
        # Der Leser der Ausgabe hat aufgehört (etwa `klimabot export … | head`): kein Fehler
        # des Bots, kein Traceback. Der Rest geht ins Leere, damit auch das letzte Leeren der
        # Ausgabe beim Beenden nicht scheitert; Code 1, denn die Ausgabe ist unvollständig.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_UNERWARTET
    except Exception:
        log.exception("Unerwarteter Fehler")
        return EXIT_UNERWARTET
    finally:
        if umask is not None:
            os.umask(umask)  # main() läuft auch in Tests im selben Prozess


def _run(argumente: argparse.Namespace) -> int:
    logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("nio").setLevel(logging.WARNING)
    einstellungen = lade_einstellungen(argumente.config)
    einstellungen.matrix_fuer_den_betrieb()  # fehlt ein Geheimnis, dann vor allem anderen
    stelle_format_ein(einstellungen.bot.protokollformat)
    aenderung: dict[str, object] = {}
    if argumente.instanz is not None:
        aenderung["name"] = argumente.instanz
    if argumente.einmalig:
        aenderung["bereitschaft"] = False
    if aenderung:
        try:
            instanz = InstanzEinstellungen.model_validate(
                einstellungen.instanz.model_dump() | aenderung
            )
        except ValidationError:
            raise KonfigurationFehler(
                [
                    f"--instanz {argumente.instanz}: nur Buchstaben, Ziffern, Punkt, Binde- "
                    "und Unterstrich (bis 40)"
                ]
            ) from None
        einstellungen = einstellungen.model_copy(update={"instanz": instanz})
    asyncio.run(betreibe(einstellungen))
    return EXIT_OK


def _check(argumente: argparse.Namespace) -> int:
    probleme: list[str] = []
    try:
        einstellungen = lade_einstellungen(argumente.config)
    except KonfigurationFehler as fehler:
        probleme.extend(fehler.probleme)
    else:
        if einstellungen.matrix is None:
            probleme.append(MATRIX_FEHLT)
        else:
            # Die Geheimnisse braucht nur `run`; sie stehen oft nur in der Umgebung des
            # Dienstes, nicht in der Shell der Verwaltung: dort reicht eine Warnung.
            for fehlt in einstellungen.matrix.fehlende_geheimnisse():
                if argumente.fuer_run:
                    probleme.append(fehlt)
                else:
                    print(
                        f"Warnung: {fehlt} – braucht nur klimabot run "
                        "(in dessen Umgebung prüfen: klimabot check --fuer-run)",
                        file=sys.stderr,
                    )
        if einstellungen.bot.stabsstelle_raum is None:
            probleme.append("bot.stabsstelle_raum: fehlt (Raum für den Wochenbericht)")
        strukturdatei = einstellungen.bot.strukturdatei
        if strukturdatei is None:
            probleme.append("bot.strukturdatei: fehlt (Pfad der Strukturdatei)")
        else:
            try:
                lies_struktur(strukturdatei)
            except StrukturFehler as fehler:
                probleme.extend(fehler.probleme)
        # Kein Fehler, eine Warnung: der Bot liefe, aber zu viel läge offen.
        for warnung in zu_offene_dateien(dateien_des_bots(einstellungen)):
            print(f"Warnung: {warnung}", file=sys.stderr)
        for warnung in asyncio.run(_raumwarnungen(einstellungen)):
            print(f"Warnung: {warnung}", file=sys.stderr)
    if probleme:
        for problem in probleme:
            print(problem, file=sys.stderr)
        return EXIT_EINGABE
    print("OK")
    return EXIT_OK


async def _raumwarnungen(einstellungen: Einstellungen) -> list[str]:
    """Was der laufende Bot zuletzt über die Mitglieder seiner Räume festhielt.

    `check` braucht dafür keinen Zugang zu Matrix: es liest nur die Datenbank, und die nur,
    wenn es sie schon gibt (angelegt oder migriert wird hier nichts).
    """
    datei = sqlite_datei(einstellungen.datenbank.url)
    if datei is not None and not datei.exists():
        return []
    engine = erzeuge_engine(einstellungen.datenbank.url)
    try:
        async with engine.connect() as verbindung:
            if not await verbindung.run_sync(lambda v: inspect(v).has_table("zustand")):
                return []  # der Bot lief hier noch nie
        async with erzeuge_sitzungsfabrik(engine)() as sitzung:
            gesehen = await fremde_mitglieder(sitzung)
            raeume = {r.raum_id: r for r in await strukturraeume(sitzung) if r.raum_id}
    except SQLAlchemyError as fehler:
        return [
            f"Datenbank nicht lesbar, Mitglieder der Räume nicht geprüft ({kurzer_grund(fehler)})"
        ]
    finally:
        await engine.dispose()
    if gesehen is None:
        return []
    stand, fremde = gesehen
    zeitzone = ZoneInfo(einstellungen.bot.zeitzone)
    wann = stand.astimezone(zeitzone).strftime("%d.%m.%Y %H:%M")
    return [
        f"Im {raeume[raum_id].bezeichnung if raum_id in raeume else 'Raum'} ({raum_id}) sitzen "
        f"Konten außerhalb von matrix.einladungen_von: {', '.join(konten)} "
        f"(so sah es der Bot am {wann})"
        for raum_id, konten in sorted(fremde.items())
    ]


@asynccontextmanager
async def _datenbank(einstellungen: Einstellungen) -> AsyncIterator[Sitzungsfabrik]:
    """Öffnet die Datenbank, wendet ausstehende Migrationen an und schließt sie wieder."""
    engine = erzeuge_engine(einstellungen.datenbank.url)
    try:
        await aktualisiere_schema(engine)
        yield erzeuge_sitzungsfabrik(engine)
    finally:
        await engine.dispose()


def _mit_datenbank(
    argumente: argparse.Namespace, arbeit: Callable[[Sitzungsfabrik], Awaitable[int]]
) -> int:
    einstellungen = lade_einstellungen(argumente.config)
    schuetze_protokoll(*einstellungen.geheimnisse())

    async def ablauf() -> int:
        async with _datenbank(einstellungen) as sitzungen:
            return await arbeit(sitzungen)

    return asyncio.run(ablauf())


def _db_upgrade(argumente: argparse.Namespace) -> int:
    async def nichts(_sitzungen: Sitzungsfabrik) -> int:
        print("Datenbank ist auf dem neuesten Stand.")
        return EXIT_OK

    return _mit_datenbank(argumente, nichts)


def _struktur_import(argumente: argparse.Namespace) -> int:
    # Erst vollständig prüfen, dann erst die Datenbank anfassen.
    struktur = lies_struktur(argumente.datei)
    wer = argumente.wer or f"{getpass.getuser()} (struktur import {argumente.datei.name})"

    async def importieren(sitzungen: Sitzungsfabrik) -> int:
        async with sitzungen.begin() as sitzung:
            bericht = await importiere_struktur(sitzung, struktur, wer)
        print(bericht.zusammenfassung())
        return EXIT_OK

    return _mit_datenbank(argumente, importieren)


def _struktur_export(argumente: argparse.Namespace) -> int:
    async def exportieren(sitzungen: Sitzungsfabrik) -> int:
        async with sitzungen() as sitzung:
            text = await exportiere_struktur(sitzung)
        if argumente.ausgabe is None:
            sys.stdout.write(text)
        else:
            argumente.ausgabe.write_text(text, encoding="utf-8")
        return EXIT_OK

    return _mit_datenbank(argumente, exportieren)


class _Datumsfehler(Exception):
    """Ein Datum auf der Kommandozeile ist ungültig; die Nachricht sagt, welches und warum."""


def _datum(option: str, text: str) -> dt.date:
    """`20.11.2026` oder `2026-11-20`; nichts anderes wird geraten, auch kein 31.02."""
    if treffer := re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", text.strip()):
        tag, monat, jahr = treffer.groups()
    elif treffer := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text.strip()):
        jahr, monat, tag = treffer.groups()
    else:
        raise _Datumsfehler(
            f"{option}: „{text}“ ist kein Datum; erwartet TT.MM.JJJJ oder JJJJ-MM-TT, "
            "z. B. 20.11.2026"
        )
    try:
        return dt.date(int(jahr), int(monat), int(tag))
    except ValueError:
        raise _Datumsfehler(f"{option}: den {text} gibt es nicht") from None


def _berichtszeitraum(
    seit: str | None, bis: str | None, zeitzone: ZoneInfo, jetzt: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """(von, bis) des Berichts: ganze Tage in Ortszeit, `--bis` eingeschlossen."""
    if bis is None:
        ende = jetzt
    else:
        letzter_tag = _datum("--bis", bis)
        ende = dt.datetime.combine(letzter_tag + dt.timedelta(days=1), dt.time(), zeitzone)
    if seit is None:
        anfang = ende - dt.timedelta(days=7)
    else:
        anfang = dt.datetime.combine(_datum("--seit", seit), dt.time(), zeitzone)
    if anfang >= ende:
        raise _Datumsfehler(f"--seit {seit}: liegt nicht vor dem Ende des Zeitraums")
    return anfang, ende


def _dashboard(argumente: argparse.Namespace) -> int:
    if argumente.wochen < 1:
        print("--wochen: mindestens 1", file=sys.stderr)
        return EXIT_EINGABE
    zeitzone = ZoneInfo(lade_einstellungen(argumente.config).bot.zeitzone)

    async def schreiben(sitzungen: Sitzungsfabrik) -> int:
        async with sitzungen() as sitzung:
            await schreibe_aus(
                sitzung,
                argumente.ausgabe,
                zeitzone=zeitzone,
                wochen=argumente.wochen,
                intern=argumente.intern,
            )
        fassung = "intern" if argumente.intern else "öffentlich"
        print(f"Dashboard ({fassung}) geschrieben: {argumente.ausgabe.resolve() / 'index.html'}")
        return EXIT_OK

    return _mit_datenbank(argumente, schreiben)


def _bericht(argumente: argparse.Namespace) -> int:
    zeitzone = ZoneInfo(lade_einstellungen(argumente.config).bot.zeitzone)
    try:
        von, bis = _berichtszeitraum(
            argumente.seit, argumente.bis, zeitzone, dt.datetime.now(dt.UTC)
        )
    except _Datumsfehler as fehler:
        print(fehler, file=sys.stderr)
        return EXIT_EINGABE
    if argumente.format in ("html", "md"):
        return _klimabericht(argumente, von, bis, zeitzone)
    ausgabe = {"text": als_text, "json": als_json}[argumente.format]

    async def ausgeben(sitzungen: Sitzungsfabrik) -> int:
        # Ausgelassene Abfragen kennt erst der Zeitplaner; die Vorschau nennt keine.
        async with sitzungen() as sitzung:
            bericht = await stelle_wochenbericht_zusammen(sitzung, von=von, bis=bis)
        text = ausgabe(bericht, zeitzone)
        if argumente.ausgabe is None:
            sys.stdout.write(text)
        else:
            ersetze_atomar(argumente.ausgabe, lambda neu: neu.write_text(text, encoding="utf-8"))
            print(f"Wochenbericht geschrieben: {argumente.ausgabe.resolve()}")
        return EXIT_OK

    return _mit_datenbank(argumente, ausgeben)


def _klimabericht(
    argumente: argparse.Namespace, von: dt.datetime, bis: dt.datetime, zeitzone: ZoneInfo
) -> int:
    """Das Kapitel für den Klimabericht als Datei mit Bildern daneben (oder Markdown ohne)."""
    format = argumente.format
    datei: Path | None = argumente.ausgabe
    if datei is None and format == "html":
        # HTML auf dem Terminal nützt niemandem, und die Bilder brauchen einen Ort.
        letzter = schreibweise.letzter_tag(bis).astimezone(zeitzone).date()
        datei = Path(f"klimabericht-{von.astimezone(zeitzone).date()}-bis-{letzter}.html")
    if datei is not None and datei.is_dir():
        print(f"-o {datei}: ist ein Verzeichnis; bitte einen Dateinamen angeben", file=sys.stderr)
        return EXIT_EINGABE
    if datei is not None and bilderordner(datei).is_file():
        print(
            f"-o {datei}: {bilderordner(datei).name} gibt es schon als Datei; dorthin kämen die "
            "Diagramme – bitte die Datei verschieben oder einen anderen Namen wählen",
            file=sys.stderr,
        )
        return EXIT_EINGABE

    async def ausgeben(sitzungen: Sitzungsfabrik) -> int:
        async with sitzungen() as sitzung:
            kapitel = await stelle_kapitel_zusammen(sitzung, von=von, bis=bis, zeitzone=zeitzone)
        if datei is None:
            sys.stdout.write(kapitel_text(kapitel, zeitzone, format))
            print("Hinweis: Diagramme gibt es mit -o DATEI als Bilder daneben.", file=sys.stderr)
            return EXIT_OK
        geschrieben = schreibe_kapitel(kapitel, datei, format, zeitzone)
        print(f"Klimabericht-Kapitel geschrieben: {geschrieben[0]}")
        print(f"Diagramme ({len(geschrieben) - 1}): {bilderordner(geschrieben[0])}")
        return EXIT_OK

    return _mit_datenbank(argumente, ausgeben)


def _export(argumente: argparse.Namespace) -> int:
    zeitzone = ZoneInfo(lade_einstellungen(argumente.config).bot.zeitzone)
    # Vor der Datenbank öffnen: ein unbrauchbarer Pfad soll scheitern, bevor etwas läuft.
    # newline="": der CSV-Schreiber setzt die Zeilenenden selbst (RFC 4180: CRLF).
    try:
        ziel = (
            sys.stdout
            if argumente.ausgabe is None
            else argumente.ausgabe.open("w", encoding="utf-8", newline="")
        )
    except OSError as fehler:
        print(f"{argumente.ausgabe}: nicht schreibbar ({fehler.strerror})", file=sys.stderr)
        return EXIT_EINGABE

    async def exportieren(sitzungen: Sitzungsfabrik) -> int:
        async with sitzungen() as sitzung:
            anzahl = await schreibe_export(
                statusmeldungen_fuer_export(sitzung),
                ziel,
                format=argumente.format,
                zeitzone=zeitzone,
            )
        if argumente.ausgabe is not None:
            print(f"{anzahl} Statusmeldungen nach {argumente.ausgabe} geschrieben.")
        return EXIT_OK

    try:
        return _mit_datenbank(argumente, exportieren)
    finally:
        if ziel is not sys.stdout:
            ziel.close()


def _sicherung(argumente: argparse.Namespace) -> int:
    # Braucht nur Datenbank und Schlüsselspeicher, kein Geheimnis für Matrix.
    einstellungen = lade_einstellungen(argumente.config)
    schuetze_protokoll(*einstellungen.geheimnisse())
    try:
        manifest = asyncio.run(sichere(einstellungen, argumente.datei))
    except SicherungFehler as fehler:
        print(fehler, file=sys.stderr)
        return EXIT_EINGABE
    print(bericht_der_sicherung(manifest, argumente.datei, ZoneInfo(einstellungen.bot.zeitzone)))
    return EXIT_OK


def _wiederherstellen(argumente: argparse.Namespace) -> int:
    einstellungen = lade_einstellungen(argumente.config)
    schuetze_protokoll(*einstellungen.geheimnisse())
    try:
        manifest = asyncio.run(stelle_wieder_her(einstellungen, argumente.datei))
        orte = Orte.aus(einstellungen)
    except SicherungFehler as fehler:
        print(fehler, file=sys.stderr)
        return EXIT_EINGABE
    zeitzone = ZoneInfo(einstellungen.bot.zeitzone)
    print(bericht_der_wiederherstellung(manifest, argumente.datei, orte, zeitzone))
    return EXIT_OK
