"""Gegen echten Synapse: der Bot in Ende-zu-Ende-verschlüsselten Räumen.

Die Menschen hier sind nio-Clients mit eigenen Schlüsseln (wie Element). Was sie sehen,
ist entschlüsselt; was auf dem Server liegt, wird eigens geprüft: nur `m.room.encrypted`,
kein lesbarer Text in Synapses Datenbank.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import secrets
import shutil
import urllib.request
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from nio import DevicesResponse
from nio.crypto import decrypt_attachment
from sqlalchemy import func, select, update

from befehle.nachricht import Nachricht
from bot.anmeldung import AnmeldungFehlgeschlagen
from bot.app import Klimabot
from bot.ausgang import NACHRICHT, direktraum, einreihen
from bot.config import lade_einstellungen
from bot.inhalt import nachrichteninhalt
from bot.niotransport import VERSCHLUESSELUNG
from demo.mensch import Mensch, Rohereignis
from modelle.tabellen import Statusmeldung, Themenfeld
from modelle.termine import naechster_arbeitstag
from tests.integration.umgebung import Umgebung

BERLIN = ZoneInfo("Europe/Berlin")


def _roh_vom_server(mensch: Mensch, raum_id: str, event_id: str) -> dict[str, Any]:
    """Das Ereignis, wie der Server es speichert – ohne Entschlüsselung."""
    anfrage = urllib.request.Request(
        f"{mensch.client.homeserver}/_matrix/client/v3/rooms/{raum_id}/event/{event_id}",
        headers={"Authorization": f"Bearer {mensch.zugang.access_token}"},
    )
    oeffner = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with oeffner.open(anfrage, timeout=10) as antwort:
        ergebnis: dict[str, Any] = json.loads(antwort.read())
    return ergebnis


def _nirgends_im_server(umgebung: Umgebung, *geheimnisse: str) -> None:
    dateien = sorted(umgebung.homeserver.verzeichnis.glob("homeserver.db*"))
    assert dateien, "Synapses Datenbank nicht gefunden"
    for datei in dateien:
        inhalt = datei.read_bytes()
        for geheimnis in geheimnisse:
            assert geheimnis.encode() not in inhalt, f"{geheimnis} steht lesbar in {datei.name}"


def _vom_bot(umgebung: Umgebung, raum: str, merkmal: str) -> Any:
    def passt(r: str, e: Rohereignis) -> bool:
        return r == raum and e.get("sender") == umgebung.bot_id and merkmal in str(e.get("content"))

    return passt


def _antwort_mit(event_id: str, bot_id: str, text: str) -> Any:
    def passt(_r: str, e: Rohereignis) -> bool:
        inhalt = e.get("content", {})
        bezug = inhalt.get("m.relates_to", {}).get("m.in_reply_to", {})
        return (
            e.get("sender") == bot_id
            and bezug.get("event_id") == event_id
            and text in str(inhalt.get("body"))
        )

    return passt


async def _meldungen(umgebung: Umgebung) -> int:
    assert umgebung.bot is not None
    async with umgebung.bot.sitzungen() as sitzung:
        return int(await sitzung.scalar(select(func.count()).select_from(Statusmeldung)) or 0)


async def test_status_meldung_und_neustart_im_verschluesselten_raum(
    verschluesselte_umgebung: Umgebung,
) -> None:
    umgebung = verschluesselte_umgebung
    patin, raum, bot_id = umgebung.patin, umgebung.raum_energie, umgebung.bot_id
    assert umgebung.bot is not None
    geraet = umgebung.bot.client.device_id

    frage = await patin.sende(raum, "!status energie")
    antwort = await patin.antwort_auf(frage, von=bot_id)
    assert "Kommunale Wärmeplanung" in antwort["content"]["body"]
    assert "<table>" in antwort["content"]["formatted_body"]

    geheim = f"Geheimtext-{secrets.token_hex(6)}"
    vorher = await _meldungen(umgebung)
    meldung = await patin.sende(raum, f"!meldung waermeplanung gelb 40% {geheim}")
    assert await patin.reaktion_auf(meldung, von=bot_id) == "✅"
    assert await _meldungen(umgebung) == vorher + 1

    # Bearbeiten und Löschen wirken auch verschlüsselt.
    await patin.bearbeite(raum, meldung, f"!meldung waermeplanung rot 35% {geheim}")
    await patin.warte_auf(_antwort_mit(meldung, bot_id, "🔴"))
    await patin.loesche(raum, meldung)
    await patin.warte_auf(_vom_bot(umgebung, raum, "zurückgezogen"))
    meldung = await patin.sende(raum, f"!meldung waermeplanung gelb 40% {geheim}")
    assert await patin.reaktion_auf(meldung, von=bot_id) == "✅"

    # Neustart mit demselben Schlüsselspeicher: dasselbe Gerät, und es liest weiter mit.
    await umgebung.stoppe_bot()
    bot = await umgebung.starte_bot()
    assert bot.client.device_id == geraet
    frage = await patin.sende(raum, "!status waermeplanung")
    stand = await patin.antwort_auf(frage, von=bot_id)
    assert geheim in stand["content"]["body"]

    # Auf dem Server liegt alles nur verschlüsselt: Befehle, Antworten, die ✅-Reaktion.
    for event_id in (frage, meldung, stand["event_id"], antwort["event_id"]):
        assert _roh_vom_server(patin, raum, event_id)["type"] == "m.room.encrypted"
    haken = next(
        e
        for r, e in patin.gesehen
        if r == raum and e.get("type") == "m.reaction" and e.get("sender") == bot_id
    )
    assert _roh_vom_server(patin, raum, haken["event_id"])["type"] == "m.room.encrypted"
    # Der Geheimtext steckt in Befehl, Meldung und Antwort des Bots – nirgends lesbar.
    _nirgends_im_server(umgebung, geheim)


async def test_abfrage_per_reaktion_und_wochenbericht_mit_verschluesseltem_bild(
    verschluesselte_umgebung: Umgebung,
) -> None:
    umgebung = verschluesselte_umgebung
    assert umgebung.bot is not None
    patin, bot_id = umgebung.patin, umgebung.bot_id
    stab = await umgebung.raum_der_stabsstelle(verschluesselt=True)
    async with umgebung.bot.sitzungen.begin() as sitzung:
        await sitzung.execute(
            update(Themenfeld).where(Themenfeld.slug == "energie").values(abfrage="täglich 09:00")
        )
    await patin.warte_auf(
        lambda r, e: (
            r == stab
            and e.get("type") == "m.room.member"
            and e.get("state_key") == bot_id
            and e.get("content", {}).get("membership") == "join"
        )
    )
    morgen = naechster_arbeitstag(dt.datetime.now(BERLIN).date() + dt.timedelta(days=1))

    await umgebung.planer(dt.datetime.combine(morgen, dt.time(9, 0, 30), tzinfo=BERLIN)).pruefe()
    waerme = await patin.warte_auf(_vom_bot(umgebung, umgebung.raum_energie, "(waermeplanung)"))
    reaktion = await patin.reagiere(umgebung.raum_energie, waerme["event_id"], "🔴")
    await patin.warte_auf(_vom_bot(umgebung, umgebung.raum_energie, "rot gespeichert"))
    # Auch die Reaktion der Patin ging verschlüsselt über die Leitung (wie bei Element).
    assert _roh_vom_server(patin, umgebung.raum_energie, reaktion)["type"] == "m.room.encrypted"

    freitag = morgen + dt.timedelta(days=(4 - morgen.weekday()) % 7)
    await umgebung.planer(dt.datetime.combine(freitag, dt.time(14, 0, 30), tzinfo=BERLIN)).pruefe()
    energie = await patin.warte_auf(_vom_bot(umgebung, stab, "Themenfeld Energie"))
    assert "🔴 rot *Kommunale Wärmeplanung*" in energie["content"]["body"]
    bild = await patin.warte_auf(
        lambda r, e: r == stab and e.get("content", {}).get("msgtype") == "m.image"
    )
    assert _roh_vom_server(patin, stab, bild["event_id"])["type"] == "m.room.encrypted"
    # Das Bild selbst liegt verschlüsselt im Medienarchiv: ohne Schlüssel kein PNG.
    datei = bild["content"]["file"]
    assert "url" not in bild["content"]
    herunter = await patin.client.download(datei["url"])
    verschluesselt = getattr(herunter, "body", b"")
    assert not verschluesselt.startswith(b"\x89PNG")
    klar = decrypt_attachment(
        verschluesselt, datei["key"]["k"], datei["hashes"]["sha256"], datei["iv"]
    )
    assert klar.startswith(b"\x89PNG")


async def test_unlesbare_nachricht_bekommt_hinweis_und_wird_nachgeholt(
    verschluesselte_umgebung: Umgebung,
) -> None:
    """Der Schlüssel kommt später als die Nachricht (wie bei verzögerten To-Device-Nachrichten)."""
    umgebung = verschluesselte_umgebung
    patin, raum, bot_id = umgebung.patin, umgebung.raum_energie, umgebung.bot_id
    zurueckgehalten = await patin.teile_raumschluessel_ohne(raum, bot_id)

    frage = await patin.sende(raum, "!status energie")
    hinweis = await patin.antwort_auf(frage, von=bot_id)
    assert "nicht entschlüsseln" in hinweis["content"]["body"]
    zweite = await patin.sende(raum, "!themen")
    await patin.ruhe(1.5)
    hinweise = [e for e in patin.nachrichten_von(bot_id, raum) if "nicht entschlüsseln" in str(e)]
    assert len(hinweise) == 1, "je Absender und Sitzung nur ein Hinweis"

    await patin.an_geraete(zurueckgehalten)
    # Jetzt entschlüsselt der Bot beide wartenden Nachrichten und beantwortet sie.
    await patin.warte_auf(_antwort_mit(frage, bot_id, "Kommunale Wärmeplanung"))
    await patin.warte_auf(_antwort_mit(zweite, bot_id, "Energie"))


async def test_verlorener_schluesselspeicher_neues_geraet_und_weiter_lesbar(
    verschluesselte_umgebung: Umgebung, caplog: Any
) -> None:
    umgebung = verschluesselte_umgebung
    patin, raum, bot_id = umgebung.patin, umgebung.raum_energie, umgebung.bot_id
    assert umgebung.bot is not None
    alt = umgebung.bot.client.device_id
    speicher = umgebung.bot.matrix.schluesselspeicher
    assert speicher is not None
    frage = await patin.sende(raum, "!themen")
    await patin.antwort_auf(frage, von=bot_id)

    await umgebung.stoppe_bot()
    await asyncio.to_thread(shutil.rmtree, speicher)
    bot = await umgebung.starte_bot()
    assert bot.client.device_id != alt
    assert "SCHLÜSSELSPEICHER VERLOREN" in caplog.text
    geraete = await bot.client.devices()
    assert isinstance(geraete, DevicesResponse)
    assert bot.client.device_id in {g.id for g in geraete.devices}

    # Neue Nachrichten liest das neue Gerät, sobald die Patin seine Schlüssel kennt.
    await asyncio.sleep(0.5)
    await patin.synchronisiere(timeout_ms=0)
    frage = await patin.sende(raum, "!status energie")
    antwort = await patin.antwort_auf(frage, von=bot_id)
    assert "Kommunale Wärmeplanung" in antwort["content"]["body"]


async def test_direktnachricht_an_die_patin_ist_verschluesselt_und_lesbar(
    verschluesselte_umgebung: Umgebung,
) -> None:
    """Wie eine Erinnerung: der Bot legt den Direktraum an und schreibt, bevor sie beitritt."""
    umgebung = verschluesselte_umgebung
    assert umgebung.bot is not None
    patin, bot_id = umgebung.patin, umgebung.bot_id
    geheim = f"Erinnerung-{secrets.token_hex(6)}"
    async with umgebung.bot.sitzungen.begin() as sitzung:
        einreihen(
            sitzung,
            direktraum(patin.user_id),
            NACHRICHT,
            nachrichteninhalt(Nachricht().absatz(geheim)),
        )
    umgebung.bot.zusteller.wecken()

    raum = await patin.nimm_einladung_an(von=bot_id)
    nachricht = await patin.warte_auf(_vom_bot(umgebung, raum, geheim), frist=30)
    assert nachricht["content"]["body"] == geheim
    assert _roh_vom_server(patin, raum, nachricht["event_id"])["type"] == "m.room.encrypted"


async def test_nachtraeglich_verschluesselter_raum_bekommt_keinen_klartext_mehr(
    verschluesselte_umgebung: Umgebung,
) -> None:
    umgebung = verschluesselte_umgebung
    patin, bot_id = umgebung.patin, umgebung.bot_id
    raum = await umgebung.raum_der_stabsstelle()  # ein Raum der Struktur, erst offen
    frage = await patin.sende(raum, "!themen")
    offen = await patin.antwort_auf(frage, von=bot_id)
    assert _roh_vom_server(patin, raum, offen["event_id"])["type"] == "m.room.message"

    await patin.client.room_put_state(raum, "m.room.encryption", VERSCHLUESSELUNG["content"])
    frage = await patin.sende(raum, "!themen")
    geschlossen = await patin.antwort_auf(frage, von=bot_id)
    assert "Energie" in geschlossen["content"]["body"]
    assert _roh_vom_server(patin, raum, geschlossen["event_id"])["type"] == "m.room.encrypted"


async def test_verlorener_schluesselspeicher_mit_nur_einem_token_bricht_mit_grund_ab(
    verschluesselte_umgebung: Umgebung,
) -> None:
    """Ein Zugangstoken gehört zu genau einem Gerät: ein neues kann der Bot so nicht anlegen."""
    umgebung = verschluesselte_umgebung
    assert umgebung.bot is not None
    speicher = umgebung.bot.matrix.schluesselspeicher
    token = umgebung.bot.client.access_token
    await umgebung.stoppe_bot()
    assert speicher is not None
    await asyncio.to_thread(shutil.rmtree, speicher)
    text = umgebung.config.read_text(encoding="utf-8")
    umgebung.config.write_text(
        text.replace("\npasswort = ", f'\nzugangstoken = "{token}"\n# passwort = '),
        encoding="utf-8",
    )
    with pytest.raises(AnmeldungFehlgeschlagen, match=r"Schlüsselspeicher von Gerät \S+ fehlt"):
        await Klimabot.erzeuge(lade_einstellungen(umgebung.config))


async def test_fehler_in_der_schluesselpflege_haelt_den_bot_nicht_an(
    verschluesselte_umgebung: Umgebung, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    async def kaputt(*_argumente: object) -> bool:
        raise RuntimeError("Absicht")

    monkeypatch.setattr("bot.sync.pflege_schluessel", kaputt)
    umgebung = verschluesselte_umgebung
    frage = await umgebung.patin.sende(umgebung.raum_energie, "!themen")
    antwort = await umgebung.patin.antwort_auf(frage, von=umgebung.bot_id)
    assert "Energie" in antwort["content"]["body"]
    assert "Schlüsselpflege gescheitert" in caplog.text


async def test_neues_geraet_der_patin_steht_im_protokoll_und_liest_die_antwort(
    verschluesselte_umgebung: Umgebung, tmp_path: Path, caplog: Any
) -> None:
    """Vertrauen beim ersten Sehen: ein zweites Gerät (etwa das Handy) bekommt die Schlüssel,
    und das Protokoll nennt es – beim Anmelden wie beim Abmelden."""
    caplog.set_level(logging.INFO, logger="bot.client")
    umgebung = verschluesselte_umgebung
    patin, raum, bot_id = umgebung.patin, umgebung.raum_energie, umgebung.bot_id
    handy = await patin.zweites_geraet(tmp_path / "handy")
    neu = handy.zugang
    try:
        frage = await handy.sende(raum, "!status energie")
        antwort = await handy.antwort_auf(frage, von=bot_id)
        # Lesbar heißt: der Bot hat seinen Raumschlüssel auch dem neuen Gerät gegeben.
        assert "Kommunale Wärmeplanung" in antwort["content"]["body"]
        assert f"Gerät {neu.device_id} von {patin.user_id} neu oder geändert" in caplog.text

        await handy.client.logout()
        abgemeldet = f"Gerät {neu.device_id} von {patin.user_id} abgemeldet"
        for _ in range(100):
            if abgemeldet in caplog.text:
                break
            await asyncio.sleep(0.1)
        assert abgemeldet in caplog.text
    finally:
        await handy.schliessen()
