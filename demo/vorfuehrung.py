"""`klimabot-demo`: der Bot in Aktion, auf einem Wegwerf-Synapse mit der Beispielstruktur.

Alles lebt in einem temporären Ordner (Synapse, Bot-Datenbank, Konfiguration, Struktur)
und verschwindet am Ende – auch nach Strg+C, SIGTERM oder einem Fehler. Der Homeserver
heißt bewusst nicht wie die Stadt: Die Matrix-IDs und Raumadressen der Beispielstruktur
werden in der Kopie auf `klimabot.demo` umgeschrieben. Was dann im Chat geschieht, spielt
`demo/szene.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib.util
import logging
import os
import secrets
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TextIO, TypeVar
from zoneinfo import ZoneInfo

import tomli_w

from bot.app import Klimabot, betrieb_aus
from bot.config import DashboardEinstellungen, Einstellungen, lade_einstellungen
from bot.planer import Planer
from demo.homeserver import HOST, HomeserverFehler, LokalerHomeserver, Zugang, freier_port
from demo.mensch import Clientfehler, Mensch
from demo.szene import Buehne, DemoFehler, Mitschrift, naechster_montagstermin, spiele_szene
from demo.vorgeschichte import (
    WOCHEN,
    VorgeschichteFehler,
    Weg,
    plane_vorgeschichte,
    spiele_vorgeschichte_ein,
)
from modelle.datenbank import erzeuge_engine, erzeuge_sitzungsfabrik
from modelle.migration import aktualisiere_schema_im_eigenen_prozess
from modelle.strukturdatei import PersonAngabe, Struktur, parse_struktur

log = logging.getLogger(__name__)

DEMO_SERVER = "klimabot.demo"
BEISPIEL_SERVER = "muenster.de"
BEISPIELSTRUKTUR = Path(__file__).resolve().parent.parent / "beispiele" / "muenster.toml"
STABSSTELLE_ALIAS = "klima-stabsstelle"
# Synapses üblicher Port: so bleibt die Adresse von Lauf zu Lauf gleich, wenn er frei ist.
WUNSCHPORT = 8008
# Das Klimadashboard schreibt der Bot selbst (`[dashboard]`): beim Start, also nach der
# Vorgeschichte, und dann alle fünf Minuten, damit auch Meldungen aus Element bald dort stehen.
DASHBOARD_ORDNER = "klimadashboard"
DASHBOARD_ZEITPLAN = "*/5 * * * *"
DASHBOARD_TAKT = "alle fünf Minuten"  # dasselbe in Worten
# So lange darf das erste Schreiben dauern (ein eigener Prozess mit matplotlib).
DASHBOARD_FRIST = 60.0

EXIT_OK = 0
EXIT_FEHLER = 1
EXIT_EINGABE = 2

_P = ParamSpec("_P")
_T = TypeVar("_T")


# --- Konten und Räume --------------------------------------------------------------------------


# Ohne 0/o und 1/l/i: die Passwörter werden abgetippt.
_PASSWORTZEICHEN = "abcdefghjkmnpqrstuvwxyz23456789"


def _passwort() -> str:
    return "-".join("".join(secrets.choice(_PASSWORTZEICHEN) for _ in range(4)) for _ in range(3))


def _lokalteil(adresse: str) -> str:
    """`@anna.becker:server` → `anna.becker`, `#klima-energie:server` → `klima-energie`."""
    return adresse[1:].partition(":")[0]


@dataclass(frozen=True)
class Konto:
    zugang: Zugang
    name: str
    rolle: str


@dataclass(frozen=True)
class Konten:
    admin: Konto
    bot: Konto
    personen: dict[str, Konto]  # nach Matrix-ID


@dataclass(frozen=True)
class Raumplan:
    name: str
    adresse: str
    thema: str
    mitglieder: tuple[str, ...]  # Matrix-IDs der Menschen; der Bot kommt immer dazu


def demostruktur(text: str) -> str:
    """Die Beispielstruktur mit Matrix-IDs und Raumadressen auf dem Demo-Server."""
    return text.replace(f":{BEISPIEL_SERVER}", f":{DEMO_SERVER}")


def _rolle(person: PersonAngabe, feldnamen: dict[str, str]) -> str:
    teile = []
    if person.stabsstelle:
        teile.append("Stabsstelle Klima")
    if person.patin:
        teile.append("Themenpat*in " + ", ".join(feldnamen[s] for s in person.patin))
    if person.koordination:
        teile.append("Klimakoordinator*in " + ", ".join(feldnamen[s] for s in person.koordination))
    return "; ".join(teile) or "ohne Rolle"


def registriere_alle(homeserver: LokalerHomeserver, struktur: Struktur) -> Konten:
    """Legt Admin, Bot und jede Person der Struktur an und hebt die Ratenlimits des Bots auf."""
    feldnamen = {f.slug: f.name for f in struktur.themenfelder}
    admin = Konto(
        homeserver.registriere("admin", _passwort(), admin=True),
        "Demo-Admin",
        "Homeserver-Admin (Synapse-Admin-API)",
    )
    bot = Konto(homeserver.registriere("klimabot", _passwort()), "Klimabot", "der Bot")
    # Wie im Betrieb: Der Bot antwortet vielen Menschen und darf nie gedrosselt werden.
    homeserver.ratenlimit_aufheben(admin.zugang.access_token, bot.zugang.user_id)
    personen: dict[str, Konto] = {}
    for person in struktur.personen:
        zugang = homeserver.registriere(_lokalteil(person.matrix_id), _passwort())
        if zugang.user_id != person.matrix_id:
            raise DemoFehler(
                f"{person.matrix_id} gehört nicht zum Demo-Server {DEMO_SERVER} "
                f"(registriert wurde {zugang.user_id})"
            )
        personen[person.matrix_id] = Konto(zugang, person.name, _rolle(person, feldnamen))
    return Konten(admin, bot, personen)


def raumplaene(struktur: Struktur) -> list[Raumplan]:
    """Je Themenfeld ein Raum für Pat*in, Koordinator*innen und Stabsstelle; dazu ihr eigener."""
    stabsstelle = tuple(p.matrix_id for p in struktur.personen if p.stabsstelle)
    plaene = []
    for feld in struktur.themenfelder:
        if feld.raum is None or not feld.raum.startswith("#"):
            log.warning("Themenfeld %s hat keine Raumadresse; kein Raum in der Demo", feld.slug)
            continue
        zustaendige = tuple(
            p.matrix_id
            for p in struktur.personen
            if feld.slug in p.patin or feld.slug in p.koordination
        )
        plaene.append(
            Raumplan(
                name=f"Themenfeld {feld.name}",
                adresse=feld.raum,
                thema=f"Strategieprojekte und Statusmeldungen im Themenfeld {feld.name}",
                mitglieder=tuple(dict.fromkeys(zustaendige + stabsstelle)),
            )
        )
    plaene.append(
        Raumplan(
            name="Stabsstelle Klima",
            adresse=f"#{STABSSTELLE_ALIAS}:{DEMO_SERVER}",
            thema="Wochenbericht und Verwaltung der Struktur",
            mitglieder=stabsstelle,
        )
    )
    return plaene


# --- Aufbau, Ablauf, Aufräumen ----------------------------------------------------------------


async def _im_thread(funktion: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Blockierende Homeserver-Aufrufe laufen im Thread.

    Kommt währenddessen ein Abbruch, wird der Thread noch zu Ende abgewartet: sonst liefe
    z. B. ein halb gestarteter Synapse weiter, während schon aufgeräumt wird.
    """
    aufgabe = asyncio.ensure_future(asyncio.to_thread(funktion, *args, **kwargs))
    try:
        return await asyncio.shield(aufgabe)
    except asyncio.CancelledError:
        await asyncio.wait({aufgabe})
        if not aufgabe.cancelled():
            aufgabe.exception()  # als abgeholt markieren; der Abbruch geht vor
        raise


def _port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, WUNSCHPORT))
        except OSError:
            return freier_port()
    return WUNSCHPORT


def _schreibe_konfiguration(ordner: Path, url: str, bot: Zugang) -> Path:
    pfad = ordner / "config.toml"
    konfiguration = {
        "matrix": {
            "homeserver": url,
            "benutzer": bot.user_id,
            "passwort": bot.passwort,
            "schluesselpasswort": _passwort(),
            "geraetename": "Klimabot (Demo)",
            "einladungen_von": [DEMO_SERVER],
        },
        "datenbank": {"url": f"sqlite+aiosqlite:///{ordner / 'klimabot.db'}"},
        "bot": {
            "stabsstelle_raum": f"#{STABSSTELLE_ALIAS}:{DEMO_SERVER}",
            "strukturdatei": "struktur.toml",
        },
        "dashboard": {"ordner": str(ordner / DASHBOARD_ORDNER), "zeitplan": DASHBOARD_ZEITPLAN},
    }
    pfad.write_text(tomli_w.dumps(konfiguration), encoding="utf-8")
    return pfad


async def _richte_raeume_ein(
    plaene: Sequence[Raumplan],
    personen: dict[str, Mensch],
    gruender: Mensch,
    bot_id: str,
) -> dict[str, str]:
    """Legt die Räume an und lässt alle Eingeladenen beitreten; Raumadresse → Raum-ID."""

    async def einrichten(plan: Raumplan) -> str:
        andere = [m for m in plan.mitglieder if m != gruender.user_id]
        raum_id = await gruender.raum_anlegen(
            einladen=[bot_id, *andere],
            name=plan.name,
            verschluesselt=True,
            alias=_lokalteil(plan.adresse),
            thema=plan.thema,
        )
        await asyncio.gather(*(personen[m].beitreten(raum_id) for m in andere))
        return raum_id

    # Gleichzeitig: Synapse braucht je Raum einige Zehntelsekunden, nacheinander summierte sich das.
    raum_ids = await asyncio.gather(*(einrichten(plan) for plan in plaene))
    return {plan.adresse: raum_id for plan, raum_id in zip(plaene, raum_ids, strict=True)}


def _zeige_anmeldungen(m: Mitschrift, url: str, konten: Konten) -> None:
    m.ueberschrift("Selbst ausprobieren")
    m.zeile(f"Homeserver: {url}   (Servername {DEMO_SERVER}, nur auf diesem Rechner erreichbar)")
    m.zeile()
    alle = [*konten.personen.values(), konten.admin]
    breite_id = max(len(k.zugang.user_id) for k in alle)
    breite_pw = max(len(k.zugang.passwort) for k in alle)
    m.zeile(f"{'Matrix-ID':<{breite_id}}  {'Passwort':<{breite_pw}}  Name – Rolle")
    for konto in alle:
        m.zeile(
            f"{konto.zugang.user_id:<{breite_id}}  {konto.zugang.passwort:<{breite_pw}}  "
            f"{konto.name} – {konto.rolle}"
        )
    m.zeile()
    m.zeile("Anmelden mit Element (Web oder Desktop) oder einem anderen Matrix-Client:")
    m.zeile(f"  „Anmelden“ → beim Homeserver „Ändern“ → {url} eintragen,")
    m.zeile("  dann Benutzername (z. B. anna.becker) und Passwort aus der Tabelle.")
    m.zeile("  Im Raum „Themenfeld Energie“ z. B. !hilfe, !status oder !meldung ausprobieren.")
    m.zeile()
    m.zeile("Strg+C beendet die Demo und räumt auf.")


async def _vorfuehrung(
    ordner: Path, homeserver: LokalerHomeserver, m: Mitschrift, nur_szene: bool
) -> None:
    text = demostruktur(BEISPIELSTRUKTUR.read_text(encoding="utf-8"))
    struktur = parse_struktur(text, BEISPIELSTRUKTUR.name)
    (ordner / "struktur.toml").write_text(text, encoding="utf-8")

    m.zeile(f"Starte Synapse ({DEMO_SERVER}) auf {homeserver.url} …")
    await _im_thread(homeserver.start)
    m.zeile(f"Registriere den Bot und {len(struktur.personen)} Personen der Beispielstruktur …")
    konten = await _im_thread(registriere_alle, homeserver, struktur)

    async with contextlib.AsyncExitStack() as stapel:
        personen: dict[str, Mensch] = {}
        for matrix_id, konto in konten.personen.items():
            personen[matrix_id] = Mensch(
                homeserver.url,
                konto.zugang,
                ordner / "menschen" / _lokalteil(matrix_id),
                name=konto.name,
            )
            stapel.push_async_callback(personen[matrix_id].schliessen)
        bot_profil = Mensch(
            homeserver.url,
            konten.bot.zugang,
            ordner / "menschen" / "bot-profil",
            name=konten.bot.name,
        )
        stapel.push_async_callback(bot_profil.schliessen)
        await asyncio.gather(
            bot_profil.anzeigename_setzen(), *(p.anzeigename_setzen() for p in personen.values())
        )

        plaene = raumplaene(struktur)
        m.zeile(
            f"Lege {len(plaene)} Räume an (Ende-zu-Ende-verschlüsselt), lade die Beteiligten ein …"
        )
        stabsstelle = [p.matrix_id for p in struktur.personen if p.stabsstelle]
        if not stabsstelle:
            raise DemoFehler("Die Beispielstruktur nennt niemanden aus der Stabsstelle Klima.")
        # Die Stabsstelle verwaltet die Struktur, also legt sie auch die Räume an.
        gruender = personen[stabsstelle[0]]
        raeume = await _richte_raeume_ein(plaene, personen, gruender, konten.bot.zugang.user_id)
        # Der erste Sync lädt die Geräteschlüssel hoch: erst dann kann der Bot ihnen schreiben.
        await asyncio.gather(*(p.synchronisiere(timeout_ms=0) for p in personen.values()))

        konfiguration = _schreibe_konfiguration(ordner, homeserver.url, konten.bot.zugang)
        einstellungen = lade_einstellungen(konfiguration)
        raum_ids = {f.slug: raeume[f.raum] for f in struktur.themenfelder if f.raum in raeume}
        await _vorgeschichte(m, einstellungen, struktur, raum_ids)

        m.zeile("Starte den Klimabot …")
        bot = await Klimabot.erzeuge(einstellungen)
        bot_aufgabe = asyncio.create_task(bot.laufen(), name="klimabot")
        try:
            await _warte_bis_bereit(bot, bot_aufgabe)
            buehne = Buehne(
                bot_id=konten.bot.zugang.user_id,
                raeume=raeume,
                raum_stabsstelle=raeume[f"#{STABSSTELLE_ALIAS}:{DEMO_SERVER}"],
                raumnamen={raeume[p.adresse]: p.name for p in plaene},
                mitschrift=m,
                bot_aufgabe=bot_aufgabe,
                planer_zu=lambda zeitpunkt: Planer(
                    sitzungen=bot.sitzungen,
                    zeitzone=ZoneInfo(einstellungen.bot.zeitzone),
                    betrieb=betrieb_aus(einstellungen),
                    praefix=einstellungen.bot.befehlspraefix,
                    nach_commit=bot.zusteller.wecken,
                    uhr=lambda: zeitpunkt,
                ),
                naechster_montag=naechster_montagstermin(ZoneInfo(einstellungen.bot.zeitzone)),
                projekte_im_raum={
                    raeume[feld.raum]: [
                        p.slug for p in struktur.projekte if p.themenfeld == feld.slug
                    ]
                    for feld in struktur.themenfelder
                    if feld.raum is not None
                },
            )
            await spiele_szene(buehne, struktur, personen)
            await _zeige_dashboard(m, einstellungen.dashboard, bot_aufgabe, bleibt=not nur_szene)
            if nur_szene:
                return
            _zeige_anmeldungen(m, homeserver.url, konten)
            # Abgeschirmt: Strg+C bricht das Warten ab, nicht den Bot; der hält unten geordnet an.
            await asyncio.shield(bot_aufgabe)
            raise DemoFehler("Der Klimabot hat sich unerwartet beendet.")
        finally:
            await _halte_an(bot, bot_aufgabe)


async def _vorgeschichte(
    m: Mitschrift, einstellungen: Einstellungen, struktur: Struktur, raum_ids: dict[str, str]
) -> None:
    """Zwölf Wochen, bevor der Bot startet: Import der Struktur und die Meldungen seitdem,
    über dieselben Wege wie im Chat (`demo/vorgeschichte.py`), in die Datenbank des Bots."""
    zeitzone = ZoneInfo(einstellungen.bot.zeitzone)
    try:
        vorgeschichte = plane_vorgeschichte(
            struktur,
            ende=dt.datetime.now(dt.UTC),
            zeitzone=zeitzone,
            abfrage_vorgabe=betrieb_aus(einstellungen).abfrage,
        )
    except ValueError as fehler:
        raise DemoFehler(f"Die Vorgeschichte passt nicht zur Beispielstruktur: {fehler}") from None
    m.zeile(
        f"Spiele {WOCHEN} Wochen Vorgeschichte ein: Import der Struktur am "
        f"{vorgeschichte.importzeit.astimezone(zeitzone):%d.%m.%Y}, danach Meldungen wie im Chat …"
    )
    engine = erzeuge_engine(einstellungen.datenbank.url)
    try:
        await aktualisiere_schema_im_eigenen_prozess(engine)
        await spiele_vorgeschichte_ein(
            vorgeschichte, einstellungen, erzeuge_sitzungsfabrik(engine), raum_ids=raum_ids
        )
    except VorgeschichteFehler as fehler:
        raise DemoFehler(f"Die Vorgeschichte ließ sich nicht einspielen: {fehler}") from None
    finally:
        await engine.dispose()
    titel = {p.slug: p.titel for p in struktur.projekte}
    m.zeile(
        f"    {len(vorgeschichte.meldungen)} Statusmeldungen von {len(vorgeschichte.personen)} "
        f"Personen ({vorgeschichte.anzahl(Weg.BEFEHL)} per !meldung, "
        f"{vorgeschichte.anzahl(Weg.ANTWORT)} als Antwort auf die Abfrage, "
        f"{vorgeschichte.anzahl(Weg.TIPP)} per Tipp)"
    )
    for woerter, slugs in (
        ("abgeschlossen", vorgeschichte.abgeschlossen),
        ("überfällig", vorgeschichte.ueberfaellig),
    ):
        if slugs:
            m.zeile(f"    {woerter}: " + ", ".join(f"{titel[s]} ({s})" for s in slugs))


async def _zeige_dashboard(
    m: Mitschrift,
    dashboard: DashboardEinstellungen,
    bot_aufgabe: asyncio.Task[None],
    *,
    bleibt: bool,
) -> None:
    """Nennt die Adresse des Klimadashboards, sobald der Bot es geschrieben hat; `bleibt`: die
    Demo läuft danach weiter (sonst räumt sie gleich auf, und wie oft die Seite neu geschrieben
    wird, interessiert nicht)."""
    assert dashboard.ordner is not None  # setzt die Konfiguration der Demo
    seite = dashboard.ordner / "index.html"
    m.ueberschrift("Klimadashboard")
    schleife = asyncio.get_running_loop()
    frist = schleife.time() + DASHBOARD_FRIST
    while not await asyncio.to_thread(seite.exists):
        if bot_aufgabe.done() or schleife.time() > frist:
            m.zeile(
                f"Das Klimadashboard ist nach {DASHBOARD_FRIST:.0f} s noch nicht geschrieben; "
                "scheitert es, steht der Grund im Protokoll („Klimadashboard nicht geschrieben …“)."
            )
            return
        await asyncio.sleep(0.2)
    m.zeile(f"Klimadashboard: {seite.as_uri()}")
    if bleibt:
        m.zeile(
            f"Ampeln und Verläufe der letzten {dashboard.wochen} Wochen je Themenfeld, im Browser "
            f"zu öffnen; der Bot schreibt es {DASHBOARD_TAKT} neu."
        )


async def _warte_bis_bereit(bot: Klimabot, bot_aufgabe: asyncio.Task[None]) -> None:
    bereit = asyncio.ensure_future(bot.sync.bereit.wait())
    try:
        await asyncio.wait({bereit, bot_aufgabe}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    finally:
        bereit.cancel()
    if bot_aufgabe.done():
        raise DemoFehler("Der Klimabot ist beim Start beendet worden.")
    if not bot.sync.bereit.is_set():
        raise DemoFehler("Der Klimabot ist nach 30 s noch nicht bereit.")


async def _halte_an(bot: Klimabot, bot_aufgabe: asyncio.Task[None]) -> None:
    bot.anhalten()
    fertig, _ = await asyncio.wait({bot_aufgabe}, timeout=20)
    if not fertig:
        log.warning("Klimabot hält nicht an; wird abgebrochen")
        bot_aufgabe.cancel()
        await asyncio.wait({bot_aufgabe})
    if not bot_aufgabe.cancelled() and (fehler := bot_aufgabe.exception()) is not None:
        log.error("Klimabot mit Fehler beendet: %r", fehler)


async def _bis_signal(arbeit: Coroutine[Any, Any, None], halt: asyncio.Event) -> bool:
    """Führt `arbeit` aus, bis sie endet oder `halt` gesetzt wird; `True` bei Halt.

    Der Halt bricht die Arbeit ab; ihre `finally`-Blöcke räumen dabei geordnet auf.
    """
    aufgabe = asyncio.create_task(arbeit, name="demo")
    warten = asyncio.ensure_future(halt.wait())
    try:
        await asyncio.wait({aufgabe, warten}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        warten.cancel()
    if not aufgabe.done():
        aufgabe.cancel()
        await asyncio.wait({aufgabe})
    if aufgabe.cancelled():
        return True
    aufgabe.result()  # Fehler der Arbeit weiterreichen
    return halt.is_set()


async def _demo(ausgabe: TextIO, nur_szene: bool) -> bool:
    # Die Signale gelten bis zuletzt: Ein zweites Strg+C oder ein SIGTERM während des
    # Aufräumens darf Synapse und den Arbeitsordner nicht zurücklassen.
    schleife = asyncio.get_running_loop()
    halt = asyncio.Event()
    signale = (signal.SIGINT, signal.SIGTERM)
    for nummer in signale:
        schleife.add_signal_handler(nummer, halt.set)
    try:
        m = Mitschrift(ausgabe)
        with tempfile.TemporaryDirectory(prefix="klimabot-demo-") as name:
            ordner = Path(name)
            m.zeile(f"Klimabot-Demo – Arbeitsordner {ordner} (wird am Ende gelöscht)")
            # Synapses eigene Ratenlimits wie im Betrieb: Wer die Demo mit Element ausprobiert,
            # erlebt den echten Server, und die Ausnahme für den Bot (s. o.) hat ihren Sinn.
            homeserver = LokalerHomeserver(
                ordner / "synapse", DEMO_SERVER, _port(), ratenlimits=True
            )
            try:
                return await _bis_signal(_vorfuehrung(ordner, homeserver, m, nur_szene), halt)
            finally:
                await _im_thread(homeserver.stop)
    finally:
        for nummer in signale:
            schleife.remove_signal_handler(nummer)


def _ohne_klimabot_umgebung() -> list[str]:
    """Entfernt `KLIMABOT_…`-Variablen: Die Demo soll nie echte Konten oder Datenbanken nutzen."""
    namen = [name for name in os.environ if name.startswith("KLIMABOT_")]
    for name in namen:
        del os.environ[name]
    return namen


def fuehre_vor(*, nur_szene: bool = False, ausgabe: TextIO | None = None) -> int:
    """`klimabot-demo`: 0 nach sauberem Ende (auch Strg+C), 2 ohne Synapse, 1 bei Fehler."""
    ausgabe = ausgabe or sys.stdout
    if importlib.util.find_spec("synapse") is None:
        print(
            "Für die Demo fehlt matrix-synapse. `make demo` installiert es "
            "(oder: pip install -e '.[test]').",
            file=sys.stderr,
        )
        return EXIT_EINGABE
    if not BEISPIELSTRUKTUR.exists():
        print(f"Beispielstruktur {BEISPIELSTRUKTUR} nicht gefunden.", file=sys.stderr)
        return EXIT_EINGABE
    if ignoriert := _ohne_klimabot_umgebung():
        print(f"Hinweis: {', '.join(sorted(ignoriert))} gilt in der Demo nicht.", file=ausgabe)
    try:
        angehalten = asyncio.run(_demo(ausgabe, nur_szene))
    except (DemoFehler, HomeserverFehler, Clientfehler) as fehler:
        print(f"Die Demo ist gescheitert: {fehler}", file=sys.stderr)
        print("Alles ist aufgeräumt.", file=sys.stderr)
        return EXIT_FEHLER
    m = Mitschrift(ausgabe)
    m.zeile()
    m.zeile(
        "Demo beendet; Homeserver, Bot und Arbeitsordner sind aufgeräumt."
        if angehalten or not nur_szene
        else "Szene beendet; Homeserver, Bot und Arbeitsordner sind aufgeräumt."
    )
    return EXIT_OK
