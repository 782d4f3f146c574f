"""Der Testaufbau selbst: ein echter Synapse, echte nio-Clients, frische Konten je Test."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    LoginResponse,
    RoomCreateResponse,
    RoomInviteResponse,
    RoomMessageText,
    RoomSendError,
    RoomSendResponse,
    SyncResponse,
    WhoamiResponse,
)

from demo.homeserver import HomeserverFehler, LokalerHomeserver, Zugang
from tests.integration import NeuePerson


def eindeutig(name: str) -> str:
    # Die Server leben die ganze Sitzung: feste Namen kollidierten mit späteren Tests.
    return f"{name}-{secrets.token_hex(4)}"


@asynccontextmanager
async def angemeldet(
    homeserver: LokalerHomeserver, zugang: Zugang, config: AsyncClientConfig | None = None
) -> AsyncIterator[AsyncClient]:
    """Ein nio-Client mit dem Token des Zugangs, ohne neue Anmeldung."""
    client = AsyncClient(homeserver.url, zugang.user_id, config=config)
    client.restore_login(zugang.user_id, zugang.device_id, zugang.access_token)
    try:
        yield client
    finally:
        await client.close()


async def neuer_raum(client: AsyncClient, *eingeladene: Zugang) -> str:
    antwort = await client.room_create(name="Themenfeld Energie")
    assert isinstance(antwort, RoomCreateResponse), antwort
    raum_id: str = antwort.room_id
    for person in eingeladene:
        einladung = await client.room_invite(raum_id, person.user_id)
        assert isinstance(einladung, RoomInviteResponse), einladung
    return raum_id


async def warte_auf_ereignis(
    client: AsyncClient, raum_id: str, event_id: str, frist: float = 10
) -> Any:
    """Synchronisiert, bis `event_id` in der Timeline von `raum_id` auftaucht."""
    async with asyncio.timeout(frist):
        while True:
            antwort = await client.sync(timeout=1000)
            assert isinstance(antwort, SyncResponse), antwort
            raum = antwort.rooms.join.get(raum_id)
            for ereignis in raum.timeline.events if raum else []:
                if ereignis.event_id == event_id:
                    return ereignis


async def test_html_nachricht_erreicht_eingeladene_person(
    homeserver: LokalerHomeserver, neue_person: NeuePerson
) -> None:
    patin, koordinator = neue_person("patin"), neue_person("koordinator")
    async with (
        angemeldet(homeserver, patin) as client_patin,
        angemeldet(homeserver, koordinator) as client_koordinator,
    ):
        raum_id = await neuer_raum(client_patin, koordinator)
        beitritt = await client_koordinator.join(raum_id)
        assert isinstance(beitritt, JoinResponse), beitritt
        erster_sync = await client_koordinator.sync(timeout=0)
        assert isinstance(erster_sync, SyncResponse), erster_sync

        gesendet = await client_patin.room_send(
            raum_id,
            "m.room.message",
            {
                "msgtype": "m.text",
                "body": "Wärmeplanung: gelb",
                "format": "org.matrix.custom.html",
                "formatted_body": "<b>Wärmeplanung</b>: 🟡 gelb",
            },
        )
        assert isinstance(gesendet, RoomSendResponse), gesendet

        ereignis = await warte_auf_ereignis(client_koordinator, raum_id, gesendet.event_id)
        assert isinstance(ereignis, RoomMessageText)
        assert ereignis.sender == patin.user_id
        assert ereignis.body == "Wärmeplanung: gelb"
        assert ereignis.format == "org.matrix.custom.html"
        assert ereignis.formatted_body == "<b>Wärmeplanung</b>: 🟡 gelb"


async def test_konten_ueberstehen_neustart(gedrosselter_homeserver: LokalerHomeserver) -> None:
    # Der gedrosselte Server, nicht der gemeinsame: ein Neustart darf niemanden stören.
    server = gedrosselter_homeserver
    zugang = await asyncio.to_thread(server.registriere, eindeutig("stabsstelle"), "geheim-4711")
    port = server.port

    await asyncio.to_thread(server.stop)
    assert not server.laeuft
    await asyncio.to_thread(server.start)
    assert server.port == port

    async with angemeldet(server, zugang) as client:
        wer = await client.whoami()
        assert isinstance(wer, WhoamiResponse), wer
        assert wer.user_id == zugang.user_id
    neu = AsyncClient(server.url, zugang.user_id)
    try:
        anmeldung = await neu.login(zugang.passwort)
        assert isinstance(anmeldung, LoginResponse), anmeldung
    finally:
        await neu.close()


async def test_ratenlimit_greift_und_laesst_sich_aufheben(
    gedrosselter_homeserver: LokalerHomeserver,
) -> None:
    server = gedrosselter_homeserver
    admin = await asyncio.to_thread(server.registriere, eindeutig("admin"), "pw-admin", True)
    bot = await asyncio.to_thread(server.registriere, eindeutig("klimabot"), "pw-bot")
    # Ohne Obergrenze würde nio jeden 429 stumm abwarten und erneut senden.
    sofort_aufgeben = AsyncClientConfig(max_limit_exceeded=0)
    async with angemeldet(server, bot, sofort_aufgeben) as client:
        raum_id = await neuer_raum(client)
        inhalt = {"msgtype": "m.notice", "body": "Erinnerung"}

        # Synapse hält jede 429-Antwort 0,5 s zurück: beim ersten aufhören.
        gedrosselt: RoomSendResponse | RoomSendError | None = None
        for _ in range(20):
            gedrosselt = await client.room_send(raum_id, "m.room.message", inhalt)
            if isinstance(gedrosselt, RoomSendError):
                break
        assert isinstance(gedrosselt, RoomSendError), "Synapses Voreinstellung drosselt nicht"
        assert gedrosselt.status_code == "M_LIMIT_EXCEEDED"
        assert gedrosselt.retry_after_ms

        await asyncio.to_thread(server.ratenlimit_aufheben, admin.access_token, bot.user_id)
        for _ in range(12):
            frei = await client.room_send(raum_id, "m.room.message", inhalt)
            assert isinstance(frei, RoomSendResponse), frei


def test_vergebener_name_wird_abgelehnt(homeserver: LokalerHomeserver) -> None:
    name = eindeutig("doppelt")
    homeserver.registriere(name, "pw-eins")
    with pytest.raises(HomeserverFehler) as fehler:
        homeserver.registriere(name, "pw-zwei")
    assert fehler.value.errcode == "M_USER_IN_USE"


def test_belegter_port_wird_gemeldet(tmp_path: Path, homeserver: LokalerHomeserver) -> None:
    zweiter = LokalerHomeserver(tmp_path, port=homeserver.port)
    with pytest.raises(HomeserverFehler, match="schon belegt"):
        zweiter.start()
    assert not zweiter.laeuft


def test_startfehler_zeigt_das_log(tmp_path: Path) -> None:
    kaputt = LokalerHomeserver(tmp_path, server_name="kein gültiger name")
    with pytest.raises(HomeserverFehler, match="invalid format") as fehler:
        kaputt.start()
    assert "beim Start beendet" in str(fehler.value)
    assert not kaputt.laeuft
