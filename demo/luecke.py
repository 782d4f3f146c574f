"""Was ein abgeschnittener Sync ausließ, per `/messages` nachholen – für Clients ohne den Bot.

Synapse schickt je Raum und Sync höchstens 100 Ereignisse; kommen mehr, ist die Zeitleiste
abgeschnitten (`limited`) und der Rest fehlt. Der simulierte Mensch und der Echo-Bot der Bank
holen ihn hiermit nach. Nur matrix-nio: der Echo-Bot soll als Vergleichsmaßstab nichts vom
Klimabot laden.
"""

from __future__ import annotations

from collections.abc import Container

from nio import AsyncClient, Event, MessageDirection, RoomMessagesResponse

SEITEN_HOECHSTENS = 50


async def nachholen(
    client: AsyncClient, raum_id: str, von: str, *, bekannt: Container[str]
) -> list[Event]:
    """Die Ereignisse vor `von` (dem `prev_batch` des Syncs), älteste zuerst, rückwärts gelesen
    bis zum ersten schon bekannten Ereignis oder zum Anfang des Raums."""
    gesammelt: list[Event] = []
    start = von
    for _ in range(SEITEN_HOECHSTENS):
        seite = await client.room_messages(
            raum_id, start=start, direction=MessageDirection.back, limit=100
        )
        if not isinstance(seite, RoomMessagesResponse) or not seite.chunk:
            break
        for ereignis in seite.chunk:
            if ereignis.event_id in bekannt:
                return list(reversed(gesammelt))
            gesammelt.append(ereignis)
        if not seite.end or seite.end == start:
            break
        start = seite.end
    return list(reversed(gesammelt))
