from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from demo.homeserver import LokalerHomeserver, Zugang
from tests.integration import NeuePerson
from tests.integration.umgebung import Umgebung, baue_umgebung

_HIER = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Hooks aus einer conftest sehen alle gesammelten Tests, nicht nur die dieses Ordners.
    for item in items:
        if item.path.is_relative_to(_HIER):
            item.add_marker(pytest.mark.synapse)


@pytest.fixture(scope="session")
def homeserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LokalerHomeserver]:
    """Ein Synapse für den ganzen Testlauf; Tests trennen sich über eigene Konten und Räume."""
    with LokalerHomeserver(tmp_path_factory.mktemp("synapse")) as server:
        yield server


@pytest.fixture(scope="session")
def gedrosselter_homeserver(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LokalerHomeserver]:
    """Ein zweiter Server mit Synapses eigenen Ratenlimits; startet nur, wenn ein Test ihn will.

    Tests dürfen ihn neu starten: Port, Konten und Räume bleiben dabei erhalten.
    """
    with LokalerHomeserver(tmp_path_factory.mktemp("gedrosselt"), ratenlimits=True) as server:
        yield server


@pytest.fixture
def neue_person(homeserver: LokalerHomeserver) -> NeuePerson:
    def registrieren(rolle: str = "person", *, admin: bool = False) -> Zugang:
        # Zufallsanhang statt Zähler: Konten überleben den Test im selben Server.
        name = f"{rolle}-{secrets.token_hex(4)}"
        return homeserver.registriere(name, secrets.token_urlsafe(16), admin=admin)

    return registrieren


@pytest.fixture
async def umgebung(homeserver: LokalerHomeserver, tmp_path: Path) -> AsyncIterator[Umgebung]:
    async for fertig in baue_umgebung(homeserver, tmp_path):
        yield fertig


@pytest.fixture
async def verschluesselte_umgebung(
    homeserver: LokalerHomeserver, tmp_path: Path
) -> AsyncIterator[Umgebung]:
    """Wie `umgebung`, aber beide Räume Ende-zu-Ende-verschlüsselt, alle Menschen mit Schlüsseln."""
    async for fertig in baue_umgebung(homeserver, tmp_path, verschluesselt=True):
        yield fertig


@pytest.fixture
async def gedrosselte_umgebung(
    gedrosselter_homeserver: LokalerHomeserver, tmp_path: Path
) -> AsyncIterator[Umgebung]:
    """Wie `umgebung`, aber auf einem Synapse mit seinen eigenen Ratenlimits."""
    async for fertig in baue_umgebung(gedrosselter_homeserver, tmp_path):
        yield fertig
