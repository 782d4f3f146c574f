"""Alles gegen den echten Synapse: Latenz, Schub, Nachholen nach Stillstand, Speicher, Start.

Ein Synapse auf 127.0.0.1, darauf der Klimabot und die Echo-Bots als eigene Prozesse. Jeder
Bot hat seine eigenen Räume (sonst sähe der eine die Befehle des anderen); die messende
Person ist in allen und misst mit demselben Client, abwechselnd und in zufälliger
Reihenfolge je Runde, damit Schwankungen der Maschine alle gleich treffen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
import tomllib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
from nio import AsyncClient, RoomSendResponse

from bench.echobot import GROSS, WIE_KLIMABOT
from bench.prozesse import (
    Prozess,
    cpu_sekunden,
    echobot,
    echobot_bereit,
    klimabot,
    synapse_pid,
)
from bot.config import MatrixEinstellungen
from bot.inhalt import reaktionsinhalt
from demo.homeserver import LokalerHomeserver, Zugang
from demo.mensch import Ankunft, Mensch

log = logging.getLogger(__name__)

BEISPIEL = Path(__file__).resolve().parent.parent / "beispiele" / "muenster.toml"
BEFEHL = "!status energie"
PING = "!ping"
# Ein Zeitplan, der während der Messung nie fällig wird (29. Februar, 3 Uhr): der Planer
# prüft trotzdem jede Minute, wie im Betrieb, aber keine Abfrage platzt in die Messung.
NIE = "0 3 29 2 *"
SCHUBBEFEHLE = (
    "!status energie",
    "!status",
    "!verlauf waermeplanung",
    "!meldung waermeplanung gelb 40% Ausschreibung läuft ({nummer})",
    "!status waermeplanung",
)
NACHHOLBEFEHLE = (
    "!meldung pv-offensive gruen {prozent}% Dach {nummer} fertig",
    "!status energie",
    "!meldung waermeplanung gelb {prozent}% Stand {nummer}",
    "!verlauf pv-offensive 3",
)


def e2e_im_klimabot() -> str | None:
    """`None`, wenn der Klimabot verschlüsselte Räume kann; sonst der Grund, warum nicht."""
    if "verschluesselung" in MatrixEinstellungen.model_fields:
        return None
    return "Der Klimabot kennt [matrix] verschluesselung noch nicht (Issue 5 in Arbeit)."


@dataclass
class Variante:
    """Ein Messziel: wer antwortet (None = eigene Nachricht kommt zurück), in welchem Raum."""

    name: str
    raum: str
    von: str | None
    text: str


@dataclass
class Aufbau:
    """Zwei Klimabots: einer ohne Verschlüsselung (unverschlüsselter Raum, Schub, Nachholen,
    Speicher) und einer mit (verschlüsselter Raum), jeder mit eigenem Konto und eigener
    Datenbank – so misst jeder Vergleich nur, was er messen soll."""

    homeserver: LokalerHomeserver
    verzeichnis: Path
    bot: Zugang
    bot_vs: Zugang
    echo: Zugang
    echo_vs: Zugang
    person: Mensch
    person_vs: Mensch
    sender: list[AsyncClient]
    # Zu zweit (Person und Bot), wie die Vergleichszahlen in ../shared/SYNAPSE.md (Unterlagen des
    # Teams): für die Latenz.
    raum_bot: str
    raum_echo: str
    # Mit allen Sendenden (22 Mitglieder): für Schub und Nachholen.
    raum_bot_schub: str
    raum_echo_schub: str
    raum_selbst: str
    raum_bot_vs: str | None
    raum_echo_vs: str
    raum_selbst_vs: str
    klimabot: Prozess
    klimabot_vs: Prozess | None
    echo_klar: Prozess
    echo_verschluesselt: Prozess
    e2e_grund: str | None
    startzeiten: dict[str, float] = field(default_factory=dict)

    async def schliessen(self) -> None:
        for prozess in (
            self.klimabot,
            self.klimabot_vs,
            self.echo_klar,
            self.echo_verschluesselt,
        ):
            if prozess is not None:
                await prozess.stop()
        for person in (self.person, self.person_vs):
            await person.schliessen()
        for client in self.sender:
            await client.close()


def _struktur(raum_energie: str, patin: str, koordination: list[str]) -> str:
    """Die Beispielstruktur Münster mit den Räumen und Personen der Messung.

    Die messende Person ist Pat*in Energie und gehört zur Stabsstelle (für `!bericht`).
    Eigene Abfragezeiten der Felder entfallen (sonst käme montags eine Abfrage in die Messung);
    die anderen Felder haben keinen Raum, damit der Bot keine fremden Aliase auflösen will.
    """
    daten: dict[str, Any] = tomllib.loads(BEISPIEL.read_text(encoding="utf-8"))
    for feld in daten["themenfeld"]:
        feld.pop("raum", None)
        feld.pop("abfrage", None)
        if feld["slug"] == "energie":
            feld["raum"] = raum_energie
    for person in daten["person"]:
        if "energie" in person.get("patin", []):
            person["matrix_id"] = patin
            person["stabsstelle"] = True
    daten["person"].extend(
        {"matrix_id": mid, "name": f"Koordination {nummer}", "koordination": ["energie"]}
        for nummer, mid in enumerate(koordination, 1)
    )
    return tomli_w.dumps(daten)


def _klimabot(
    verzeichnis: Path,
    homeserver: LokalerHomeserver,
    bot: Zugang,
    struktur: str,
    *,
    verschluesselt: bool,
    stabsstelle_raum: str | None = None,
) -> Prozess:
    """Legt Konfiguration, Struktur und Logdatei eines Klimabots in `verzeichnis` an."""
    verzeichnis.mkdir(parents=True, exist_ok=True)
    (verzeichnis / "struktur.toml").write_text(struktur, encoding="utf-8")
    matrix: dict[str, Any] = {
        "homeserver": homeserver.url,
        "benutzer": bot.user_id,
        "passwort": bot.passwort,
        "einladungen_von": [homeserver.server_name],
    }
    if "verschluesselung" in MatrixEinstellungen.model_fields:
        matrix["verschluesselung"] = verschluesselt
        if verschluesselt:
            matrix["schluesselspeicher"] = str(verzeichnis / "klimabot-schluessel")
            matrix["schluesselpasswort"] = secrets.token_urlsafe(24)
    daten = {
        "matrix": matrix,
        "datenbank": {"url": f"sqlite+aiosqlite:///{verzeichnis / 'klimabot.db'}"},
        # Die Messung schickt schneller, als ein Mensch es je täte (Schub: 25 Befehle je Person
        # auf einmal); gemessen wird die Verarbeitung, nicht die Drossel.
        "bot": {
            "strukturdatei": "struktur.toml",
            "flut_stoss": 0,
            # Der Bot handelt nur in Räumen der Struktur; der Schubraum ist der der Stabsstelle.
            **({"stabsstelle_raum": stabsstelle_raum} if stabsstelle_raum else {}),
        },
        "zeitplan": {"abfrage": NIE, "wochenbericht": NIE, "erinnerung": NIE},
    }
    config = verzeichnis / "config.toml"
    config.write_text(tomli_w.dumps(daten), encoding="utf-8")
    name = "Klimabot (verschlüsselt)" if verschluesselt else "Klimabot"
    return klimabot(config, verzeichnis / "klimabot.log", name)


async def _im_namen(url: str, zugang: Zugang, raum_ids: list[str]) -> None:
    """Tritt für ein Konto Räumen bei (die Bots sollen nicht erst Einladungen bearbeiten)."""
    client = AsyncClient(url, zugang.user_id)
    client.restore_login(zugang.user_id, zugang.device_id, zugang.access_token)
    try:
        for raum_id in raum_ids:
            await client.join(raum_id)
    finally:
        await client.close()


async def baue_auf(homeserver: LokalerHomeserver, verzeichnis: Path, *, sender: int) -> Aufbau:
    def konto(name: str) -> Zugang:
        return homeserver.registriere(name, secrets.token_urlsafe(16))

    url = homeserver.url
    bot, bot_vs = konto("klimabot"), konto("klimabot-vs")
    echo, echo_vs = konto("echo"), konto("echo-vs")
    person = Mensch(url, konto("person"))
    person_vs = Mensch(url, konto("person-vs"), verzeichnis / "person-vs")
    sendende = [konto(f"sender-{n:02d}") for n in range(1, sender + 1)]
    e2e_grund = e2e_im_klimabot()

    ids = [s.user_id for s in sendende]
    raum_bot = await person.raum_anlegen(einladen=[bot.user_id], name="Energie")
    raum_echo = await person.raum_anlegen(einladen=[echo.user_id], name="Echo")
    raum_bot_schub = await person.raum_anlegen(einladen=[bot.user_id, *ids], name="Schub")
    raum_echo_schub = await person.raum_anlegen(einladen=[echo.user_id, *ids], name="Echo-Schub")
    raum_selbst = await person.raum_anlegen(einladen=[], name="Allein")
    raum_bot_vs = None
    if e2e_grund is None:
        raum_bot_vs = await person_vs.raum_anlegen(
            einladen=[bot_vs.user_id], name="Energie (verschlüsselt)", verschluesselt=True
        )
    raum_echo_vs = await person_vs.raum_anlegen(
        einladen=[echo_vs.user_id], name="Echo (verschlüsselt)", verschluesselt=True
    )
    raum_selbst_vs = await person_vs.raum_anlegen(
        einladen=[], name="Allein (verschlüsselt)", verschluesselt=True
    )
    await _im_namen(url, echo, [raum_echo, raum_echo_schub])
    # Der Schubraum ist der der Stabsstelle (kein Themenfeld): der Bot tritt ihm vorab bei.
    await _im_namen(url, bot, [raum_bot_schub])
    await _im_namen(url, echo_vs, [raum_echo_vs])
    clients = []
    for zugang in sendende:
        await _im_namen(url, zugang, [raum_bot_schub, raum_echo_schub])
        client = AsyncClient(url, zugang.user_id)
        client.restore_login(zugang.user_id, zugang.device_id, zugang.access_token)
        clients.append(client)

    logs = verzeichnis / "logs"
    logs.mkdir(exist_ok=True)
    klimabot_vs = None
    if raum_bot_vs is not None:
        klimabot_vs = _klimabot(
            verzeichnis / "klimabot-vs",
            homeserver,
            bot_vs,
            _struktur(raum_bot_vs, person_vs.user_id, []),
            verschluesselt=True,
        )
    return Aufbau(
        homeserver=homeserver,
        verzeichnis=verzeichnis,
        bot=bot,
        bot_vs=bot_vs,
        echo=echo,
        echo_vs=echo_vs,
        person=person,
        person_vs=person_vs,
        sender=clients,
        raum_bot=raum_bot,
        raum_echo=raum_echo,
        raum_bot_schub=raum_bot_schub,
        raum_echo_schub=raum_echo_schub,
        raum_selbst=raum_selbst,
        raum_bot_vs=raum_bot_vs,
        raum_echo_vs=raum_echo_vs,
        raum_selbst_vs=raum_selbst_vs,
        klimabot=_klimabot(
            verzeichnis / "klimabot",
            homeserver,
            bot,
            _struktur(raum_bot, person.user_id, ids),
            verschluesselt=False,
            stabsstelle_raum=raum_bot_schub,
        ),
        klimabot_vs=klimabot_vs,
        echo_klar=echobot(url, echo, logs / "echo.log"),
        echo_verschluesselt=echobot(
            url, echo_vs, logs / "echo-vs.log", speicher=verzeichnis / "echo-vs"
        ),
        e2e_grund=e2e_grund,
    )


async def _sende(person: Mensch, raum_id: str, text: str) -> tuple[str, float]:
    """Sendet eine Textnachricht; Event-ID und Sendebeginn (perf_counter) für die Messung."""
    beginn = time.perf_counter()
    return await person.sende(raum_id, text), beginn


async def bereitmachen(person: Mensch, variante: Variante, frist: float = 90) -> None:
    """Sendet, bis die Variante antwortet (Bot noch im ersten Sync, Schlüssel noch unterwegs)."""
    ende = time.monotonic() + frist
    while True:
        await person.lauscht()
        event_id, _ = await _sende(person, variante.raum, variante.text)
        try:
            await person.ankunft(event_id, von=variante.von, frist=4)
            return
        except TimeoutError:
            if time.monotonic() > ende:
                raise RuntimeError(f"{variante.name} antwortet nicht binnen {frist} s") from None
            if person.verschluesselt:
                # Wurde der Gruppenschlüssel geteilt, bevor das Gerät des Bots Schlüssel
                # hatte, kann der Bot diese Sitzung nie lesen: eine neue beginnen.
                person.client.invalidate_outbound_session(variante.raum)


async def starte(aufbau: Aufbau) -> None:
    """Startet Klimabot und Echo-Bots und wartet, bis jeder antwortet."""
    await aufbau.person.lausche_im_hintergrund()
    await aufbau.person_vs.lausche_im_hintergrund()
    await aufbau.klimabot.start()
    if aufbau.klimabot_vs is not None:
        await aufbau.klimabot_vs.start()
    for prozess in (aufbau.echo_klar, aufbau.echo_verschluesselt):
        beginn = await prozess.start()
        aufbau.startzeiten[prozess.name] = await echobot_bereit(prozess) - beginn
        log.info("%s bereit nach %.1f s", prozess.name, aufbau.startzeiten[prozess.name])
    for person, variante in varianten(aufbau):
        if variante.von is not None:
            beginn = time.perf_counter()
            await bereitmachen(person, variante)
            log.info("%s antwortet (%.1f s)", variante.name, time.perf_counter() - beginn)


def varianten(aufbau: Aufbau) -> list[tuple[Mensch, Variante]]:
    klar, vs = aufbau.person, aufbau.person_vs
    liste = [
        (klar, Variante("selbst", aufbau.raum_selbst, None, BEFEHL)),
        (klar, Variante("echo", aufbau.raum_echo, aufbau.echo.user_id, PING)),
        (klar, Variante("echo_gross", aufbau.raum_echo, aufbau.echo.user_id, GROSS)),
        (klar, Variante("echo_wie", aufbau.raum_echo, aufbau.echo.user_id, WIE_KLIMABOT)),
        (klar, Variante("klimabot", aufbau.raum_bot, aufbau.bot.user_id, BEFEHL)),
        (vs, Variante("selbst_vs", aufbau.raum_selbst_vs, None, BEFEHL)),
        (vs, Variante("echo_vs", aufbau.raum_echo_vs, aufbau.echo_vs.user_id, PING)),
    ]
    if aufbau.raum_bot_vs is not None:
        liste.append(
            (vs, Variante("klimabot_vs", aufbau.raum_bot_vs, aufbau.bot_vs.user_id, BEFEHL))
        )
    return liste


# --- 1. Latenz ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """Eine Rundreise, und wo ihre Zeit lag – nach den Zeitstempeln des Homeservers, der auf
    derselben Maschine mit derselben Uhr läuft."""

    rundreise_ms: float
    # Antwort minus Befehl (origin_server_ts): ohne die Wege zur Person und zurück.
    beim_server_ms: float | None
    # Vom Anlegen der Antwort beim Homeserver, bis die Person sie im Sync hat.
    zur_person_ms: float | None


async def _probe(person: Mensch, variante: Variante) -> Probe:
    await person.lauscht()
    event_id, beginn = await _sende(person, variante.raum, variante.text)
    ankunft = await person.ankunft(event_id, von=variante.von)
    # `ankunft.zeit` zählt perf_counter; der Homeserver stempelt in Wanduhrzeit.
    wanduhr_ms = (ankunft.zeit + time.time() - time.perf_counter()) * 1000
    befehl = person.ankuenfte.get(event_id)
    beim_server = zur_person = None
    if variante.von is not None and befehl is not None:
        beim_server = float(ankunft.server_ts - befehl.server_ts)
        zur_person = wanduhr_ms - ankunft.server_ts
    return Probe((ankunft.zeit - beginn) * 1000, beim_server, zur_person)


async def latenz(
    aufbau: Aufbau,
    *,
    proben: int,
    aufwaermen: int,
    fortschritt: Callable[[str], None],
    zufall: random.Random,
) -> dict[str, list[Probe]]:
    """Je Runde eine Probe jeder Variante in zufälliger Reihenfolge; die Proben je Variante."""
    liste = varianten(aufbau)
    proben_je: dict[str, list[Probe]] = {v.name: [] for _, v in liste}
    for runde in range(aufwaermen + proben):
        zufall.shuffle(liste)
        for person, variante in liste:
            probe = await _probe(person, variante)
            if runde >= aufwaermen:
                proben_je[variante.name].append(probe)
            # Der Bot schreibt nach dem Senden noch den Ausgangskorb fort; die nächste Probe
            # soll nicht in diese Nacharbeit fallen.
            await asyncio.sleep(0.005)
        if runde >= aufwaermen and (runde - aufwaermen + 1) % 50 == 0:
            fortschritt(f"Latenz: {runde - aufwaermen + 1}/{proben} Runden")
    return proben_je


async def cpu_je_antwort(aufbau: Aufbau, *, proben: int) -> dict[str, float]:
    """Bot-CPU je Antwort (ms), je Variante für sich gemessen: der Echo-Bot mit „pong“, der
    Echo-Bot mit einer Antwort so groß wie die des Klimabots, der Klimabot mit `!status`.

    In der Latenzphase beantwortet derselbe Echo-Prozess beide Arten im Wechsel; hier
    kommen die Befehle je Variante in einem Block nacheinander, damit die CPU des Prozesses
    einer Art zuzuordnen ist. Zwei Durchgänge in umgekehrter Reihenfolge gleichen Drift aus.
    """
    je_name = {v.name: (person, v) for person, v in varianten(aufbau)}
    prozesse = {
        "echo": aufbau.echo_klar,
        "echo_gross": aufbau.echo_klar,
        "klimabot": aufbau.klimabot,
    }
    reihenfolge = ["echo", "echo_gross", "klimabot"]
    sekunden = dict.fromkeys(reihenfolge, 0.0)
    for durchgang in (reihenfolge, list(reversed(reihenfolge))):
        for name in durchgang:
            person, variante = je_name[name]
            for _ in range(3):  # nach dem Wechsel der Art: nicht in die Nacharbeit messen
                await _probe(person, variante)
            await asyncio.sleep(0.2)
            vorher = prozesse[name].cpu()
            for _ in range(proben // 2):
                await _probe(person, variante)
                await asyncio.sleep(0.005)
            sekunden[name] += prozesse[name].cpu() - vorher
    return {name: round(wert * 1000 / (2 * (proben // 2)), 2) for name, wert in sekunden.items()}


async def leerlauf_cpu(aufbau: Aufbau, *, sekunden: float) -> dict[str, float]:
    """CPU je Sekunde ohne Befehle (ms/s): was ein Bot tut, während niemand schreibt."""
    prozesse = {"klimabot": aufbau.klimabot, "echo": aufbau.echo_klar}
    await asyncio.sleep(1)  # nicht in die Nacharbeit der letzten Antwort messen
    vorher = {name: prozess.cpu() for name, prozess in prozesse.items()}
    beginn = time.monotonic()
    await asyncio.sleep(sekunden)
    dauer = time.monotonic() - beginn
    return {
        name: round((prozess.cpu() - vorher[name]) * 1000 / dauer, 2)
        for name, prozess in prozesse.items()
    }


# --- 2. Schub ---------------------------------------------------------------------------------


@dataclass
class Schubergebnis:
    dauer_s: float
    senden_s: float
    gesendet: int
    beantwortet: int
    doppelt: int
    fehlend: int

    def als_dict(self) -> dict[str, Any]:
        return {
            "dauer_s": round(self.dauer_s, 3),
            "senden_s": round(self.senden_s, 3),
            "gesendet": self.gesendet,
            "beantwortet": self.beantwortet,
            "doppelt": self.doppelt,
            "fehlend": self.fehlend,
        }


async def _sende_alle(client: AsyncClient, raum: str, texte: list[str]) -> list[str]:
    ids = []
    for text in texte:
        antwort = await client.room_send(
            raum, "m.room.message", {"msgtype": "m.text", "body": text}
        )
        assert isinstance(antwort, RoomSendResponse), antwort
        ids.append(str(antwort.event_id))
    return ids


@dataclass
class Zaehlung:
    beantwortet: int = 0
    doppelt: int = 0
    fehlend: int = 0
    erste: float | None = None  # Ankunft der ersten Antwort überhaupt
    letzte: float | None = None  # Ankunft der letzten ersten Antwort


def _zaehle(antworten: dict[str, list[Ankunft]]) -> Zaehlung:
    zaehlung = Zaehlung()
    for liste in antworten.values():
        if not liste:
            zaehlung.fehlend += 1
            continue
        zaehlung.beantwortet += 1
        # Eine Nachricht und eine Reaktion auf denselben Befehl sind zwei Teile einer Antwort;
        # zweimal dieselbe Art ist doppelt.
        arten = [a.typ for a in liste]
        if len(arten) != len(set(arten)):
            zaehlung.doppelt += 1
        erste = min(a.zeit for a in liste)
        zaehlung.letzte = erste if zaehlung.letzte is None else max(zaehlung.letzte, erste)
        zaehlung.erste = erste if zaehlung.erste is None else min(zaehlung.erste, erste)
    return zaehlung


async def schub(
    aufbau: Aufbau, *, raum: str, von: str, je_person: int, frist: float = 240
) -> Schubergebnis:
    """Alle Sendenden zugleich, jede Person so schnell sie kann (ohne auf Antworten zu warten)."""
    texte = [
        [
            SCHUBBEFEHLE[(n + k) % len(SCHUBBEFEHLE)].format(nummer=f"{n}-{k}")
            for k in range(je_person)
        ]
        for n in range(len(aufbau.sender))
    ]
    beobachter = aufbau.person
    await beobachter.lauscht()
    beginn = time.perf_counter()
    listen = await asyncio.gather(
        *(_sende_alle(c, raum, t) for c, t in zip(aufbau.sender, texte, strict=True))
    )
    gesendet_bis = time.perf_counter()
    ids = [e for liste in listen for e in liste]
    await beobachter.warte_auf_alle(ids, von=von, frist=frist)
    # Kurz weiter zusehen: was jetzt noch käme, wäre doppelt.
    await asyncio.sleep(2)
    zaehlung = _zaehle(await beobachter.warte_auf_alle(ids, von=von, frist=0))
    return Schubergebnis(
        dauer_s=(zaehlung.letzte or time.perf_counter()) - beginn,
        senden_s=gesendet_bis - beginn,
        gesendet=len(ids),
        beantwortet=zaehlung.beantwortet,
        doppelt=zaehlung.doppelt,
        fehlend=zaehlung.fehlend,
    )


# --- 4./5. Neustart, Wochenbericht, Nachholen ---------------------------------------------------


async def wochenbericht(aufbau: Aufbau) -> float:
    """`!bericht`: Sekunden bis die Vorschau des Wochenberichts (mit Diagramm) ankommt."""
    person = aufbau.person
    await person.lauscht()
    event_id, beginn = await _sende(person, aufbau.raum_bot, "!bericht")
    ankunft = await person.ankunft(event_id, von=aufbau.bot.user_id, frist=120)
    return ankunft.zeit - beginn


async def neustart_erste_antwort(aufbau: Aufbau) -> dict[str, float]:
    """Bot beendet, neu gestartet, sofort ein Befehl: Zeit vom Start bis zur Antwort."""
    await aufbau.klimabot.stop()
    person = aufbau.person
    beginn = await aufbau.klimabot.start()
    event_id, _ = await _sende(person, aufbau.raum_bot, BEFEHL)
    ankunft = await person.ankunft(event_id, von=aufbau.bot.user_id, frist=60)
    return {"start_bis_erste_antwort_s": round(ankunft.zeit - beginn, 3)}


async def nachholen(aufbau: Aufbau, *, anzahl: int, frist: float = 300) -> dict[str, Any]:
    """Bot steht, `anzahl` Befehle und Meldungen kommen an, Bot startet: bis alles beantwortet."""
    await aufbau.klimabot.stop()
    je_person = anzahl // len(aufbau.sender)
    texte = [
        [
            NACHHOLBEFEHLE[(n + k) % len(NACHHOLBEFEHLE)].format(
                nummer=f"{n}-{k}", prozent=(n * je_person + k) % 101
            )
            for k in range(je_person)
        ]
        for n in range(len(aufbau.sender))
    ]
    listen = await asyncio.gather(
        *(
            _sende_alle(c, aufbau.raum_bot_schub, t)
            for c, t in zip(aufbau.sender, texte, strict=True)
        )
    )
    ids = [e for liste in listen for e in liste]
    synapse = synapse_pid(aufbau.homeserver.verzeichnis)
    synapse_vorher = cpu_sekunden(synapse) if synapse is not None else 0.0
    beginn = await aufbau.klimabot.start()
    await aufbau.person.warte_auf_alle(ids, von=aufbau.bot.user_id, frist=frist)
    fertig = time.perf_counter()
    synapse_cpu = cpu_sekunden(synapse) - synapse_vorher if synapse is not None else 0.0
    bot_cpu = aufbau.klimabot.cpu()
    await asyncio.sleep(2)
    zaehlung = _zaehle(await aufbau.person.warte_auf_alle(ids, von=aufbau.bot.user_id, frist=0))
    return {
        "gesendet": len(ids),
        "beantwortet": zaehlung.beantwortet,
        "doppelt": zaehlung.doppelt,
        "fehlend": zaehlung.fehlend,
        "start_bis_erste_antwort_s": round((zaehlung.erste or beginn) - beginn, 3),
        "start_bis_alles_beantwortet_s": round(
            (zaehlung.letzte or time.perf_counter()) - beginn, 3
        ),
        # Vom Start des Bots bis alles da war: ist Synapse nahe an einer vollen Sekunde CPU
        # je Sekunde, bestimmt er das Tempo, nicht der Bot.
        "cpu_s": {
            "synapse": round(synapse_cpu, 2),
            "klimabot": round(bot_cpu, 2),
            "wand": round(fertig - beginn, 2),
        },
    }


async def boden_nachholen(aufbau: Aufbau, *, anzahl: int) -> float:
    """Der Boden, den der Homeserver dem Nachholen setzt: wie lange ein schlichter Client
    braucht, um dieselben Antworten nacheinander in denselben Raum zu senden (s).

    Dieselben heißt: je Befehl der Mischung aus `NACHHOLBEFEHLE` eine Nachricht, je Meldung
    dazu die Quittung ✅ als Reaktion – so viele Ereignisse, wie der Bot beim Nachholen sendet.
    """
    client, raum = aufbau.sender[0], aufbau.raum_bot_schub
    beginn = time.perf_counter()
    for nummer in range(anzahl):
        befehl = NACHHOLBEFEHLE[nummer % len(NACHHOLBEFEHLE)]
        antwort = await client.room_send(
            raum, "m.room.message", {"msgtype": "m.notice", "body": f"Antwort {nummer}"}
        )
        assert isinstance(antwort, RoomSendResponse), antwort
        if befehl.startswith("!meldung"):
            quittung = await client.room_send(
                raum, "m.reaction", reaktionsinhalt(antwort.event_id, "✅")
            )
            assert isinstance(quittung, RoomSendResponse), quittung
    return time.perf_counter() - beginn


@contextlib.asynccontextmanager
async def synapse_und_bots(verzeichnis: Path, *, sender: int) -> AsyncIterator[Aufbau]:
    """Synapse, Konten, Räume und laufende Bots; danach wird alles beendet."""
    with LokalerHomeserver(verzeichnis / "synapse") as homeserver:
        aufbau = await baue_auf(homeserver, verzeichnis, sender=sender)
        try:
            await starte(aufbau)
            yield aufbau
        finally:
            await aufbau.schliessen()
