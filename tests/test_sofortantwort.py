"""Lesebefehle antworten sofort; „behandelt“ und der Eintrag im Ausgangskorb folgen nach dem
Stapel. Genau einmal bleibt es trotzdem, auch wenn der Bot dazwischen stirbt (Issue 13; gegen
Synapse mit SIGKILL: tests/integration/test_genau_einmal.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.ausgang import antwort_txn_id
from bot.ereignis import Ereignis
from bot.verarbeitung import DatenbankNichtErreichbar
from demo.clientinhalt import textnachricht
from modelle.datenbank import Sitzungsfabrik
from modelle.tabellen import Ausgang, Statusmeldung, VerarbeitetesEreignis
from modelle.zustand import lies_zustand, setze_zustand
from tests.testbot import PATIN_ENERGIE, RAUM_ENERGIE, Rekorder, Testbot


def _frage(testbot: Testbot, text: str, event_id: str = "$frage") -> Ereignis:
    roh = {"type": "m.room.message", "sender": PATIN_ENERGIE, "event_id": event_id}
    return testbot.baue_ereignis(RAUM_ENERGIE, {**roh, "content": textnachricht(text)})


async def _vermerkt(sitzungen: Sitzungsfabrik, event_id: str) -> tuple[bool, list[Ausgang]]:
    async with sitzungen() as sitzung:
        behandelt = await sitzung.get(VerarbeitetesEreignis, event_id) is not None
        eintraege = (
            await sitzung.scalars(select(Ausgang).where(Ausgang.txn_id == antwort_txn_id(event_id)))
        ).all()
    return behandelt, list(eintraege)


async def test_statusantwort_geht_hinaus_bevor_etwas_gespeichert_ist(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    await testbot.verarbeitung.verarbeite(_frage(testbot, "!status energie"), frisch=True)
    [antwort] = testbot.rekorder.gesendet
    assert "Themenfeld Energie" in antwort.text
    assert await _vermerkt(sitzungen, "$frage") == (False, [])

    await testbot.verarbeitung.vermerke_gesendete()
    behandelt, [eintrag] = await _vermerkt(sitzungen, "$frage")
    assert behandelt
    assert eintrag.event_id == antwort.event_id
    assert eintrag.gesendet_am is not None


async def test_antwort_auf_die_sofortige_statusantwort_ist_eine_meldung(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    """Die sofort gesendete Antwort trägt ihre Projekte wie jede andere: wer auf sie antwortet,
    meldet (dafür steht sie nach dem Stapel im Ausgangskorb)."""
    status = await testbot.sende("!status energie", als=PATIN_ENERGIE, raum=RAUM_ENERGIE)
    meldung = await testbot.sende(
        "waermeplanung gelb, 40 %, Ausschreibung läuft",
        als=PATIN_ENERGIE,
        raum=RAUM_ENERGIE,
        antwort_auf=status.nachricht.event_id,
    )
    assert meldung.reaktionen == ["✅"]
    async with sitzungen() as sitzung:
        texte = (await sitzung.scalars(select(Statusmeldung.text))).all()
    assert "Ausschreibung läuft" in texte


async def test_stirbt_der_bot_vor_dem_vermerk_gibt_der_homeserver_die_erste_antwort_zurueck(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    """Neustart mit demselben Gerät: Der Sync bringt den Befehl noch einmal (er ist nicht
    vermerkt), die Antwort geht mit derselben Transaktions-ID hinaus, der Homeserver (hier
    der Rekorder) legt sie nicht noch einmal an."""
    await testbot.verarbeitung.verarbeite(_frage(testbot, "!status energie"), frisch=True)
    [erste] = testbot.rekorder.gesendet

    neu = Testbot(sitzungen, rekorder=testbot.rekorder)
    await neu.verarbeitung.verarbeite(_frage(neu, "!status energie"), frisch=True)
    await neu.verarbeitung.vermerke_gesendete()

    assert testbot.rekorder.gesendet == [erste]
    assert testbot.rekorder.versuche[-1][1] == antwort_txn_id("$frage")
    behandelt, [eintrag] = await _vermerkt(sitzungen, "$frage")
    assert behandelt
    assert eintrag.event_id == erste.event_id


async def test_eine_andere_instanz_sendet_nicht_was_schon_im_raum_steht(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    """Ein anderes Gerät (Bereitschaft) kennt die Transaktionen des toten nicht – aber der Sync
    zeigt ihm die Antwort mit ihrer Kennung, also vermerkt es sie, statt sie zu senden."""
    await testbot.verarbeitung.verarbeite(_frage(testbot, "!status energie"), frisch=True)
    [erste] = testbot.rekorder.gesendet

    bereitschaft = Testbot(sitzungen)
    bereitschaft.verarbeitung.schon_im_raum({antwort_txn_id("$frage"): erste.event_id})
    await bereitschaft.verarbeitung.verarbeite(_frage(bereitschaft, "!status energie"), frisch=True)
    await bereitschaft.verarbeitung.vermerke_gesendete()

    assert bereitschaft.rekorder.gesendet == []
    behandelt, [eintrag] = await _vermerkt(sitzungen, "$frage")
    assert behandelt
    assert eintrag.event_id == erste.event_id


async def test_ist_der_befehl_vermerkt_bleibt_er_nach_dem_neustart_unbeantwortet(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    """Die Sync-Position liegt nach einem Neustart etwas zurück: Was vermerkt ist, kommt
    nicht als frisch (die Sync-Schleife sieht nach) und bekommt keine zweite Antwort, auch
    nicht von einem Homeserver, der die Transaktion vergessen hat."""
    await testbot.verarbeitung.verarbeite(_frage(testbot, "!status energie"), frisch=True)
    await testbot.verarbeitung.vermerke_gesendete()

    neu = Testbot(sitzungen, rekorder=Rekorder())
    await neu.verarbeitung.verarbeite(_frage(neu, "!status energie"), frisch=False)
    await neu.zusteller.zustellen()
    assert neu.rekorder.gesendet == []


async def test_meldung_wird_erst_gespeichert_dann_quittiert(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    """Schreibende Befehle nehmen nie den sofortigen Weg: ✅ kommt erst aus dem Ausgangskorb,
    in dem es mit der Meldung zusammen gespeichert wurde."""
    ereignis = _frage(testbot, "!meldung waermeplanung gelb 40% Ausschreibung läuft", "$m")
    await testbot.verarbeitung.verarbeite(ereignis, frisch=True)
    assert testbot.rekorder.gesendet == []
    async with sitzungen() as sitzung:
        assert await sitzung.get(VerarbeitetesEreignis, "$m") is not None
        assert await sitzung.scalar(select(Statusmeldung.id).where(Statusmeldung.event_id == "$m"))
        offen = (await sitzung.scalars(select(Ausgang.gesendet_am))).all()
    assert offen
    assert all(gesendet is None for gesendet in offen)
    await testbot.zusteller.zustellen()
    assert [g.reaktion for g in testbot.rekorder.gesendet if g.reaktion] == ["✅"]


async def test_sync_position_steht_nie_ohne_die_vermerke_vor_ihr(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    """Die Sync-Schleife schreibt ihre Position mit den Vermerken in einer Transaktion: Scheitert
    sie, ist weder die Position weiter noch etwas vermerkt, und der nächste Versuch schreibt
    beides. Nach einem Absturz liest der Bot also nie hinter einer Antwort weiter, die nirgends
    vermerkt ist."""
    await testbot.verarbeitung.verarbeite(_frage(testbot, "!status energie"), frisch=True)

    async def position_dann_ausfall(sitzung: AsyncSession) -> None:
        await setze_zustand(sitzung, "sync.position", "s2")
        raise OperationalError("COMMIT", {}, Exception("database is locked"))

    with pytest.raises(DatenbankNichtErreichbar):
        await testbot.verarbeitung.vermerke_gesendete(dazu=position_dann_ausfall)
    async with sitzungen() as sitzung:
        assert await lies_zustand(sitzung, "sync.position") is None
    assert await _vermerkt(sitzungen, "$frage") == (False, [])

    await testbot.verarbeitung.vermerke_gesendete(
        dazu=lambda sitzung: setze_zustand(sitzung, "sync.position", "s2")
    )
    async with sitzungen() as sitzung:
        assert await lies_zustand(sitzung, "sync.position") == "s2"
    behandelt, [_] = await _vermerkt(sitzungen, "$frage")
    assert behandelt

    # Nichts zu vermerken: die Position allein.
    await testbot.verarbeitung.vermerke_gesendete(
        dazu=lambda sitzung: setze_zustand(sitzung, "sync.position", "s3")
    )
    async with sitzungen() as sitzung:
        assert await lies_zustand(sitzung, "sync.position") == "s3"
