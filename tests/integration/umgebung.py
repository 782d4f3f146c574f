"""Der Aufbau der Integrationstests: ein Klimabot mit eigener Datenbank, Räumen und Menschen
auf einem echten Synapse – im Prozess oder als eigener Prozess –, und was die Menschen sehen."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from nio import RoomInviteResponse
from sqlalchemy import select

from befehle.grundlagen import Betrieb
from bot.app import Klimabot, setze_stabsstelle_raum
from bot.config import lade_einstellungen
from bot.planer import Planer
from demo.homeserver import LokalerHomeserver, Zugang
from demo.mensch import Mensch, Rohereignis
from modelle.tabellen import Raum
from tests.kommandozeile import KLIMABOT, ohne_klimabot_umgebung


@dataclass
class Umgebung:
    """Ein laufender Klimabot mit eigener Datenbank, ein Energie-Raum und die Beteiligten."""

    homeserver: LokalerHomeserver
    bot_id: str
    config: Path
    raum_energie: str
    raum_mobilitaet: str
    patin: Mensch
    koordination: Mensch
    patin_mobilitaet: Mensch
    aussen: Mensch
    bot_zugang: Zugang | None = None
    bot: Klimabot | None = None
    bot_aufgabe: asyncio.Task[None] | None = None

    async def starte_bot(self) -> Klimabot:
        bot = await Klimabot.erzeuge(lade_einstellungen(self.config))
        self.bot, self.bot_aufgabe = bot, asyncio.create_task(bot.laufen())
        await asyncio.wait_for(bot.sync.bereit.wait(), timeout=20)
        return bot

    async def lade_bot_ein(self, raum: str) -> None:
        """Die Pat*in lädt den Bot in einen Raum der Struktur ein; wartet, bis er darin ist.

        Er nimmt nur Räume der Struktur an: der Raum muss also vorher dort stehen.
        """
        assert self.bot is not None
        antwort = await self.patin.client.room_invite(raum, self.bot_id)
        assert isinstance(antwort, RoomInviteResponse), antwort
        for _ in range(200):
            async with self.bot.sitzungen() as sitzung:
                if await sitzung.scalar(select(Raum.id).where(Raum.raum_id == raum)) is not None:
                    return
            await asyncio.sleep(0.1)
        raise AssertionError(f"Der Bot ist {raum} nicht beigetreten")

    async def raum_der_stabsstelle(self, *, verschluesselt: bool = False) -> str:
        """Ein neuer Raum der Stabsstelle: erst in der Struktur, dann mit dem Bot darin."""
        assert self.bot is not None
        raum = await self.patin.raum_anlegen(
            einladen=[], name="Stabsstelle Klima", verschluesselt=verschluesselt
        )
        await setze_stabsstelle_raum(raum, self.bot.sitzungen)
        await self.lade_bot_ein(raum)
        return raum

    def planer(self, zeitpunkt: dt.datetime) -> Planer:
        """Der Planer des laufenden Bots, mit eingespeister Uhr (der Bot selbst läuft echt)."""
        assert self.bot is not None
        return Planer(
            sitzungen=self.bot.sitzungen,
            zeitzone=ZoneInfo(self.bot.einstellungen.bot.zeitzone),
            betrieb=Betrieb(),
            praefix="!",
            nach_commit=self.bot.zusteller.wecken,
            uhr=lambda: zeitpunkt,
        )

    async def stoppe_bot(self) -> None:
        if self.bot is not None and self.bot_aufgabe is not None:
            self.bot.anhalten()
            await asyncio.wait_for(self.bot_aufgabe, timeout=20)
            self.bot, self.bot_aufgabe = None, None


def _struktur(
    raum_energie: str, raum_mobilitaet: str, patin: str, koordination: str, patin_mob: str
) -> str:
    return f'''
[[themenfeld]]
slug = "energie"
name = "Energie"
aliase = ["strom"]
raum = "{raum_energie}"

[[themenfeld]]
slug = "mobilitaet"
name = "Mobilität"
raum = "{raum_mobilitaet}"

[[person]]
matrix_id = "{patin}"
name = "Anna Becker"
patin = ["energie"]

[[person]]
matrix_id = "{koordination}"
name = "Fatma Yilmaz"
koordination = ["energie"]

[[person]]
matrix_id = "{patin_mob}"
name = "Thomas Reinhardt"
patin = ["mobilitaet"]

[[projekt]]
slug = "waermeplanung"
themenfeld = "energie"
titel = "Kommunale Wärmeplanung"
ampel = "gruen"
fortschritt = 20

[[projekt]]
slug = "pv-offensive"
themenfeld = "energie"
titel = "PV-Offensive auf städtischen Dächern"

[[projekt]]
slug = "radvorrangrouten"
themenfeld = "mobilitaet"
titel = "Radvorrangrouten"
'''


async def baue_umgebung(
    homeserver: LokalerHomeserver, tmp_path: Path, *, verschluesselt: bool = False
) -> AsyncIterator[Umgebung]:
    """Baut eine `Umgebung` auf, startet den Bot und räumt danach alles ab."""

    def registrieren(rolle: str) -> Zugang:
        return homeserver.registriere(f"{rolle}-{secrets.token_hex(4)}", secrets.token_urlsafe(16))

    bot = registrieren("klimabot")
    menschen = [
        Mensch(
            homeserver.url,
            registrieren(r),
            tmp_path / "menschen" / r if verschluesselt else None,
        )
        for r in ("patin", "koordination", "patinmob", "aussen")
    ]
    patin, koordination, patin_mob, aussen = menschen
    raum_energie = await patin.raum_anlegen(
        einladen=[bot.user_id, koordination.user_id, aussen.user_id, patin_mob.user_id],
        name="Themenfeld Energie",
        verschluesselt=verschluesselt,
    )
    raum_mobilitaet = await patin_mob.raum_anlegen(
        einladen=[bot.user_id], name="Mobilität", verschluesselt=verschluesselt
    )
    for mensch in (koordination, aussen, patin_mob):
        await mensch.beitreten(raum_energie)
    for mensch in menschen:
        await mensch.synchronisiere(timeout_ms=0)  # lädt die Geräteschlüssel hoch
    (tmp_path / "struktur.toml").write_text(
        _struktur(
            raum_energie, raum_mobilitaet, patin.user_id, koordination.user_id, patin_mob.user_id
        ),
        encoding="utf-8",
    )
    config = tmp_path / "config.toml"
    config.write_text(
        f'''
[matrix]
homeserver = "{homeserver.url}"
benutzer = "{bot.user_id}"
passwort = "{bot.passwort}"
schluesselpasswort = "{secrets.token_urlsafe(16)}"
einladungen_von = ["{patin.user_id}", "{patin_mob.user_id}"]

[datenbank]
url = "sqlite+aiosqlite:///{tmp_path / "klimabot.db"}"

[bot]
strukturdatei = "struktur.toml"
''',
        encoding="utf-8",
    )
    umgebung = Umgebung(
        homeserver=homeserver,
        bot_id=bot.user_id,
        config=config,
        raum_energie=raum_energie,
        raum_mobilitaet=raum_mobilitaet,
        patin=patin,
        koordination=koordination,
        patin_mobilitaet=patin_mob,
        aussen=aussen,
        bot_zugang=bot,
    )
    try:
        await umgebung.starte_bot()
        yield umgebung
    finally:
        await umgebung.stoppe_bot()
        for mensch in menschen:
            await mensch.schliessen()


@contextmanager
def bot_prozess(
    config: Path, *argumente: str, protokoll_datei: str = "bot.log"
) -> Iterator[subprocess.Popen[bytes]]:
    """`klimabot run` als eigener Prozess (zum Töten mit SIGKILL); am Ende beendet.

    `argumente` gehen an `klimabot run` (etwa `--instanz b`), die Ausgabe nach
    `protokoll_datei` neben der Konfiguration."""
    umgebung = ohne_klimabot_umgebung()
    protokoll = (config.parent / protokoll_datei).open("ab")
    prozess = subprocess.Popen(
        [str(KLIMABOT), "run", "--config", str(config), *argumente],
        cwd=config.parent,
        env=umgebung,
        stdout=protokoll,
        stderr=subprocess.STDOUT,
    )
    try:
        yield prozess
    finally:
        if prozess.poll() is None:
            prozess.kill()
        prozess.wait(timeout=10)
        protokoll.close()


def protokoll_von(datei: Path) -> str:
    """Das Protokoll eines Bot-Prozesses (`bot_prozess`), leer, solange es keins gibt."""
    return datei.read_text(encoding="utf-8", errors="replace") if datei.exists() else ""


async def warte_auf_zeile(datei: Path, text: str, frist: float = 30.0) -> str:
    """Wartet, bis `text` im Protokoll steht; gibt das Protokoll zurück."""
    ende = time.monotonic() + frist
    inhalt = ""
    while time.monotonic() < ende:
        inhalt = protokoll_von(datei)
        if text in inhalt:
            return inhalt
        await asyncio.sleep(0.1)
    raise AssertionError(f"„{text}“ nicht in {datei.name}:\n{inhalt[-3000:]}")


def antworten_auf(ereignisse: list[Rohereignis], event_id: str, bot: str) -> list[Rohereignis]:
    """Was der Bot auf `event_id` geantwortet hat: Antworten und Reaktionen."""
    return [
        e
        for e in ereignisse
        if e.get("sender") == bot
        and (
            e["content"].get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id")
            == event_id
            or e["content"].get("m.relates_to", {}).get("event_id") == event_id
        )
    ]
