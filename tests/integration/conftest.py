from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from nio import RoomInviteResponse
from sqlalchemy import select

from befehle.grundlagen import Betrieb
from bot.app import Klimabot, setze_stabsstelle_raum
from bot.config import lade_einstellungen
from bot.planer import Planer
from demo.homeserver import LokalerHomeserver, Zugang
from demo.mensch import Mensch
from modelle.tabellen import Raum
from tests.integration import NeuePerson

_HIER = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Hooks aus einer conftest sehen alle gesammelten Tests, nicht nur die dieses Ordners.
    for item in items:
        if item.path.is_relative_to(_HIER):
            item.add_marker(pytest.mark.synapse)


def _synapse_oder_ueberspringen() -> None:
    if importlib.util.find_spec("synapse") is not None:
        return
    grund = "matrix-synapse ist nicht installiert (pip install -e '.[test]')"
    # In CI installiert make test Synapse; fehlt es dort, darf nichts still übersprungen werden.
    if os.environ.get("CI"):
        pytest.fail(grund)
    pytest.skip(grund)


@pytest.fixture(scope="session")
def homeserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LokalerHomeserver]:
    """Ein Synapse für den ganzen Testlauf; Tests trennen sich über eigene Konten und Räume."""
    _synapse_oder_ueberspringen()
    with LokalerHomeserver(tmp_path_factory.mktemp("synapse")) as server:
        yield server


@pytest.fixture(scope="session")
def gedrosselter_homeserver(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LokalerHomeserver]:
    """Ein zweiter Server mit Synapses eigenen Ratenlimits; startet nur, wenn ein Test ihn will.

    Tests dürfen ihn neu starten: Port, Konten und Räume bleiben dabei erhalten.
    """
    _synapse_oder_ueberspringen()
    with LokalerHomeserver(tmp_path_factory.mktemp("gedrosselt"), ratenlimits=True) as server:
        yield server


@pytest.fixture
def neue_person(homeserver: LokalerHomeserver) -> NeuePerson:
    def registrieren(rolle: str = "person", *, admin: bool = False) -> Zugang:
        # Zufallsanhang statt Zähler: Konten überleben den Test im selben Server.
        name = f"{rolle}-{secrets.token_hex(4)}"
        return homeserver.registriere(name, secrets.token_urlsafe(16), admin=admin)

    return registrieren


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
    _aufgabe: asyncio.Task[None] | None = None

    async def starte_bot(self) -> Klimabot:
        bot = await Klimabot.erzeuge(lade_einstellungen(self.config))
        self.bot, self._aufgabe = bot, asyncio.create_task(bot.laufen())
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
        if self.bot is not None and self._aufgabe is not None:
            self.bot.anhalten()
            await asyncio.wait_for(self._aufgabe, timeout=20)
            self.bot, self._aufgabe = None, None


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


async def _baue_umgebung(
    homeserver: LokalerHomeserver, tmp_path: Path, *, verschluesselt: bool = False
) -> AsyncIterator[Umgebung]:
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


@pytest.fixture
async def umgebung(homeserver: LokalerHomeserver, tmp_path: Path) -> AsyncIterator[Umgebung]:
    async for fertig in _baue_umgebung(homeserver, tmp_path):
        yield fertig


@pytest.fixture
async def verschluesselte_umgebung(
    homeserver: LokalerHomeserver, tmp_path: Path
) -> AsyncIterator[Umgebung]:
    """Wie `umgebung`, aber beide Räume Ende-zu-Ende-verschlüsselt, alle Menschen mit Schlüsseln."""
    async for fertig in _baue_umgebung(homeserver, tmp_path, verschluesselt=True):
        yield fertig


@pytest.fixture
async def gedrosselte_umgebung(
    gedrosselter_homeserver: LokalerHomeserver, tmp_path: Path
) -> AsyncIterator[Umgebung]:
    """Wie `umgebung`, aber auf einem Synapse mit seinen eigenen Ratenlimits."""
    async for fertig in _baue_umgebung(gedrosselter_homeserver, tmp_path):
        yield fertig
