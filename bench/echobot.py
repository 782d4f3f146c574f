"""Der Vergleichsmaßstab: ein minimaler matrix-nio-Bot, der jede `!…`-Nachricht beantwortet.

So schlicht wie möglich, aber so, dass er keine Nachricht verliert: eine Sync-Schleife,
die jede Textnachricht, die mit „!“ beginnt, der Reihe nach mit einer `m.notice` als
Antwort („pong“) quittiert. Er speichert nichts und prüft nichts – jeder Abstand des
Klimabots zu ihm ist also, was der Klimabot selbst tut.

Warum nicht nios `sync_forever` mit Callback (wie in nios Anleitung): Synapse schickt je
Raum und Sync höchstens 100 Ereignisse (auch wenn der Filter mehr verlangt). Kommen im
Schub mehr, ist die Zeitleiste abgeschnitten, und ein `sync_forever`-Bot übergeht den Rest
stumm – gemessen: 124 von 500 beantwortet. Dieser Bot holt die Lücke wie der Klimabot per
`/messages` nach. Verschlüsselt pflegt er seine Schlüssel nach jedem Sync so, wie
`sync_forever` es täte.

Läuft als eigener Prozess, damit Latenz und Speicher je Prozess vergleichbar sind; das
Zugangstoken kommt aus der Umgebung (`ECHOBOT_TOKEN`).

    python -m bench.echobot --homeserver URL --benutzer @echo:server --geraet ID [--speicher DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    RoomMessageText,
    SyncResponse,
)
from nio.store import SqliteStore

from demo.luecke import nachholen

log = logging.getLogger("echobot")

TOKEN_VARIABLE = "ECHOBOT_TOKEN"
# Auf `!gross` antwortet er so groß wie der Klimabot auf `!status energie` (Text 486,
# HTML 907 Zeichen, eine Tabelle): der Vergleich damit trennt, was die Antwort selbst beim
# Homeserver und beim Client kostet, von dem, was der Klimabot tut.
GROSS = "!gross"
GROSSE_ANTWORT: dict[str, Any] = {
    "msgtype": "m.notice",
    "body": ("Stand Themenfeld Energie: 🟡 gelb 40 %, gemeldet vor 3 Tagen. " * 8)[:486],
    "format": "org.matrix.custom.html",
    "formatted_body": (
        "<table><tr><th>Projekt</th><th>Ampel</th><th>Fortschritt</th></tr>"
        + "<tr><td>Kommunale Wärmeplanung</td><td>🟡 gelb</td><td>40 %</td></tr>" * 12
    )[:899]
    + "</table>",
}
# Auf `!wie-klimabot` antwortet er wie der Klimabot: so groß und mit leerem `m.mentions`
# (das schützt vor den alten Erwähnungsregeln, bot/inhalt.py). Der Abstand zu `!gross` ist,
# was allein dieser Schlüssel beim Homeserver kostet.
WIE_KLIMABOT = "!wie-klimabot"
ANTWORT_WIE_KLIMABOT: dict[str, Any] = {**GROSSE_ANTWORT, "m.mentions": {"user_ids": []}}
BEREIT = "bereit"
# Derselbe Zuschnitt wie beim Klimabot (keine Präsenz, keine Tipp- und Lesebestätigungen,
# 100 Ereignisse je Raum), damit der Vergleich den Bot misst und nicht den Filter.
FILTER: dict[str, Any] = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {
        "timeline": {"limit": 100},
        "ephemeral": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
    },
}


class Echobot:
    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.beantwortet: set[str] = set()

    async def schluesselpflege(self) -> None:
        client = self.client
        if client.olm is None:
            return
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()

    async def antworten(self, raum_id: str, ereignis: Any) -> None:
        if (
            not isinstance(ereignis, RoomMessageText)
            or ereignis.sender == self.client.user_id
            or not ereignis.body.startswith("!")
            or ereignis.event_id in self.beantwortet
        ):
            return
        self.beantwortet.add(ereignis.event_id)
        inhalt: dict[str, Any] = {"msgtype": "m.notice", "body": "pong"}
        if ereignis.body.startswith(GROSS):
            inhalt = dict(GROSSE_ANTWORT)
        elif ereignis.body.startswith(WIE_KLIMABOT):
            inhalt = dict(ANTWORT_WIE_KLIMABOT)
        inhalt["m.relates_to"] = {"m.in_reply_to": {"event_id": ereignis.event_id}}
        await self.client.room_send(
            raum_id, "m.room.message", inhalt, ignore_unverified_devices=True
        )

    async def laufen(self) -> None:
        # Der erste Sync stellt Räume und Zustand her; was vorher geschah, bleibt unbeantwortet.
        antwort = await self.client.sync(timeout=0, sync_filter=FILTER, full_state=True)
        while not isinstance(antwort, SyncResponse):
            await asyncio.sleep(1)
            antwort = await self.client.sync(timeout=0, sync_filter=FILTER, full_state=True)
        for raum in antwort.rooms.join.values():
            self.beantwortet.update(e.event_id for e in raum.timeline.events)
        await self.schluesselpflege()
        print(BEREIT, flush=True)
        while True:
            antwort = await self.client.sync(timeout=30_000, sync_filter=FILTER)
            if not isinstance(antwort, SyncResponse):
                log.warning("Sync gescheitert: %s", antwort)
                await asyncio.sleep(1)
                continue
            for raum_id, raum in antwort.rooms.join.items():
                ereignisse = list(raum.timeline.events)
                if raum.timeline.limited and raum.timeline.prev_batch:
                    fehlend = await nachholen(
                        self.client, raum_id, raum.timeline.prev_batch, bekannt=self.beantwortet
                    )
                    ereignisse = fehlend + ereignisse
                for ereignis in ereignisse:
                    await self.antworten(raum_id, ereignis)
            await self.schluesselpflege()


async def betreibe(homeserver: str, benutzer: str, geraet: str, speicher: Path | None) -> None:
    konfiguration = AsyncClientConfig(encryption_enabled=speicher is not None, store=SqliteStore)
    client = AsyncClient(
        homeserver,
        benutzer,
        device_id=geraet,
        store_path=str(speicher) if speicher is not None else "",
        config=konfiguration,
    )
    client.restore_login(benutzer, geraet, os.environ[TOKEN_VARIABLE])
    schleife = asyncio.get_running_loop()
    halt = asyncio.Event()
    for signalnummer in (signal.SIGTERM, signal.SIGINT):
        schleife.add_signal_handler(signalnummer, halt.set)
    bot = asyncio.create_task(Echobot(client).laufen())
    warten = asyncio.create_task(halt.wait())
    await asyncio.wait({bot, warten}, return_when=asyncio.FIRST_COMPLETED)
    bot.cancel()
    warten.cancel()
    await asyncio.gather(bot, warten, return_exceptions=True)
    if bot.done() and not bot.cancelled() and bot.exception() is not None:
        log.error("Echo-Bot abgebrochen", exc_info=bot.exception())
    await client.close()


def main() -> int:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    parser = argparse.ArgumentParser(prog="echobot", description=__doc__)
    parser.add_argument("--homeserver", required=True)
    parser.add_argument("--benutzer", required=True)
    parser.add_argument("--geraet", required=True)
    parser.add_argument("--speicher", type=Path, default=None, help="Schlüsselspeicher (E2EE)")
    argumente = parser.parse_args()
    if argumente.speicher is not None:
        argumente.speicher.mkdir(parents=True, exist_ok=True)
    asyncio.run(
        betreibe(argumente.homeserver, argumente.benutzer, argumente.geraet, argumente.speicher)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
