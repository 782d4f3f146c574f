"""Gegen echten Synapse: ein Raum, der nicht will, hält niemanden auf; Direkträume entstehen
genau einmal und werden neu angelegt, wenn die Pat*in gegangen ist.

Alles verschlüsselt, wie die Vorgabe des Bots (seine Direkträume sind es immer).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable

from nio import JoinedRoomsResponse
from sqlalchemy import select

from befehle.grundlagen import Antwort, Folge
from befehle.nachricht import Nachricht
from bot.ausgang import NACHRICHT, direktraum, einreihen, reihe_antwort_ein
from bot.inhalt import nachrichteninhalt
from bot.niotransport import NioTransport
from demo.mensch import Mensch, Rohereignis
from modelle.direktraeume import beabsichtige_direktraum
from modelle.tabellen import Ausgang, Direktraum
from tests.integration.umgebung import Umgebung


async def _status_dauer(mensch: Mensch, raum: str, bot_id: str) -> float:
    """Sekunden von `!status energie` bis die Person die Antwort sieht."""
    await mensch.synchronisiere(timeout_ms=0)
    beginn = time.monotonic()
    frage = await mensch.sende(raum, "!status energie")
    antwort = await mensch.antwort_auf(frage, von=bot_id, frist=20)
    assert "Kommunale Wärmeplanung" in antwort["content"]["body"]
    return time.monotonic() - beginn


async def test_abfrage_fuer_raum_ohne_bot_verzoegert_die_antwort_im_anderen_raum_nicht(
    verschluesselte_umgebung: Umgebung,
) -> None:
    """Wie gemessen im Issue: Verschlüsselung an, ein Raum hat den Bot nie eingeladen."""
    umgebung = verschluesselte_umgebung
    bot = umgebung.bot
    assert bot is not None
    koordination, raum = umgebung.koordination, umgebung.raum_energie
    sonst = min([await _status_dauer(koordination, raum, umgebung.bot_id) for _ in range(2)])

    fremd = await umgebung.aussen.raum_anlegen(einladen=[], name="Ohne Bot")
    abfrage = Antwort(
        Nachricht().absatz("📋 Abfrage für einen Raum, in den der Bot nie eingeladen wurde"),
        thread=(Folge(Nachricht().absatz("Projektzeile")),),
    )
    async with bot.sitzungen.begin() as sitzung:
        reihe_antwort_ein(sitzung, fremd, abfrage)
    bot.zusteller.wecken()

    async def fremd_versucht() -> bool:
        async with bot.sitzungen() as sitzung:
            fehler = await sitzung.scalar(
                select(Ausgang.letzter_fehler).where(Ausgang.raum_id == fremd).limit(1)
            )
        return fehler is not None

    ende = time.monotonic() + 10
    while not await fremd_versucht():
        assert time.monotonic() < ende, "Der Bot hat den fremden Raum nicht versucht"
        await asyncio.sleep(0.05)

    jetzt = await _status_dauer(koordination, raum, umgebung.bot_id)
    # So schnell wie sonst; die Zugabe fängt das Rauschen einer belasteten Maschine auf.
    assert jetzt < 2 * sonst + 0.5, (jetzt, sonst)
    async with bot.sitzungen() as sitzung:
        offen = (
            await sitzung.scalars(
                select(Ausgang.letzter_fehler).where(
                    Ausgang.raum_id == fremd, Ausgang.gesendet_am.is_(None)
                )
            )
        ).all()
    # Beide warten noch (mit Pause, begrenzt); keiner wurde gesendet.
    assert len(offen) == 2
    assert "nicht darin" in str(offen[0])


def _nachricht_mit(
    text: str, bot_id: str, raum: str | None = None
) -> Callable[[str, Rohereignis], bool]:
    def passt(r: str, e: Rohereignis) -> bool:
        return (
            e.get("sender") == bot_id
            and text in str(e.get("content", {}).get("body"))
            and (raum is None or r == raum)
        )

    return passt


async def _direktnachricht(umgebung: Umgebung, text: str) -> None:
    assert umgebung.bot is not None
    async with umgebung.bot.sitzungen.begin() as sitzung:
        einreihen(
            sitzung,
            direktraum(umgebung.patin.user_id),
            NACHRICHT,
            nachrichteninhalt(Nachricht().absatz(text)),
        )
    umgebung.bot.zusteller.wecken()


async def _raeume_des_bots(umgebung: Umgebung) -> set[str]:
    assert umgebung.bot is not None
    antwort = await umgebung.bot.client.joined_rooms()
    assert isinstance(antwort, JoinedRoomsResponse), antwort
    return set(antwort.rooms)


async def _direktraeume(umgebung: Umgebung) -> list[tuple[str | None, bool]]:
    assert umgebung.bot is not None
    async with umgebung.bot.sitzungen() as sitzung:
        zeilen = await sitzung.scalars(select(Direktraum).order_by(Direktraum.id))
        return [(z.raum_id, z.aufgegeben_am is None) for z in zeilen]


async def test_direktraum_nach_absturz_zwischen_anlegen_und_merken_wird_wiederverwendet(
    verschluesselte_umgebung: Umgebung,
) -> None:
    umgebung = verschluesselte_umgebung
    bot, patin = umgebung.bot, umgebung.patin
    assert bot is not None
    # Der Versuch vor dem Absturz: Absicht festgeschrieben, Raum angelegt, Raum-ID nie gemerkt.
    async with bot.sitzungen.begin() as sitzung:
        absicht = await beabsichtige_direktraum(sitzung, patin.user_id)
    angelegt = await NioTransport(bot.client).erstelle_direktraum(patin.user_id, absicht.kennung)
    raeume_vorher = await _raeume_des_bots(umgebung)

    text = f"Erinnerung-{secrets.token_hex(4)}"
    await _direktnachricht(umgebung, text)
    raum = await patin.nimm_einladung_an(von=umgebung.bot_id)
    assert raum == angelegt
    await patin.warte_auf(_nachricht_mit(text, umgebung.bot_id, raum), frist=20)

    assert await _raeume_des_bots(umgebung) == raeume_vorher  # kein zweiter Raum
    assert await _direktraeume(umgebung) == [(angelegt, True)]


async def test_verlassener_direktraum_wird_neu_angelegt_statt_hineingeschrieben(
    verschluesselte_umgebung: Umgebung,
) -> None:
    umgebung = verschluesselte_umgebung
    patin, bot_id = umgebung.patin, umgebung.bot_id
    erste = f"Erste-{secrets.token_hex(4)}"
    await _direktnachricht(umgebung, erste)
    alt = await patin.nimm_einladung_an(von=bot_id)
    await patin.warte_auf(_nachricht_mit(erste, bot_id, alt), frist=20)
    await patin.client.room_leave(alt)

    zweite = f"Zweite-{secrets.token_hex(4)}"
    await _direktnachricht(umgebung, zweite)
    neu = await patin.nimm_einladung_an(von=bot_id)
    assert neu != alt
    nachricht = await patin.warte_auf(_nachricht_mit(zweite, bot_id), frist=20)
    assert [r for r, e in patin.gesehen if e is nachricht] == [neu]

    assert alt not in await _raeume_des_bots(umgebung)  # der Bot ist gegangen
    assert await _direktraeume(umgebung) == [(alt, False), (neu, True)]
