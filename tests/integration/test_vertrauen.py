"""Gegen echten Synapse: wem der Bot vertraut – Räume, Raumschlüssel, Löschungen, Entschlüsseltes.

Der Bot vertraut nur der Struktur: in welchen Räumen er sitzt, welche Geräte Raumschlüssel
bekommen, wer eine Meldung ändern oder zurückziehen darf. Nie Power-Levels, Anzeigenamen
oder dem, was der Inhalt einer verschlüsselten Nachricht über sich behauptet.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demo.mensch import Mensch
from tests.integration.umgebung import Umgebung
from tests.kreuzsignatur import Kreuzsignatur, richte_ein


async def _status(umgebung: Umgebung, projekt: str) -> str:
    frage = await umgebung.patin.sende(umgebung.raum_energie, f"!status {projekt}")
    antwort = await umgebung.patin.antwort_auf(frage, von=umgebung.bot_id)
    return str(antwort["content"]["body"])


async def test_verschluesselt_gefaelschte_mitgliedschaft_und_loeschung_wirken_nicht(
    verschluesselte_umgebung: Umgebung, caplog: pytest.LogCaptureFixture
) -> None:
    umgebung = verschluesselte_umgebung
    assert umgebung.bot is not None
    meldung = await umgebung.patin.sende(
        umgebung.raum_energie, "!meldung waermeplanung rot 10% Förderung fehlt"
    )
    assert await umgebung.patin.reaktion_auf(meldung, von=umgebung.bot_id) == "✅"

    # Ein Raummitglied verschlüsselt, was sonst nur der Server im Klartext schickt.
    fremd = "@eindringling:anderswo.example"
    await umgebung.aussen.sende_gefaelscht(
        umgebung.raum_energie,
        {"type": "m.room.member", "state_key": fremd, "content": {"membership": "join"}},
    )
    await umgebung.aussen.sende_gefaelscht(
        umgebung.raum_energie,
        {"type": "m.room.redaction", "redacts": meldung, "content": {"redacts": meldung}},
    )

    assert "🔴 rot" in await _status(umgebung, "waermeplanung")
    assert fremd not in umgebung.bot.client.rooms[umgebung.raum_energie].users
    assert "gibt sich als 'm.room.member' aus" in caplog.text
    assert "gibt sich als 'm.room.redaction' aus" in caplog.text


async def _neu_gestartet_mit(umgebung: Umgebung, **abschnitte: dict[str, object]) -> None:
    """Startet den Bot mit zusätzlichen Schlüsseln in den genannten Abschnitten neu."""
    await umgebung.stoppe_bot()
    text = umgebung.config.read_text(encoding="utf-8")
    for abschnitt, werte in abschnitte.items():
        zusatz = "".join(f"{k} = {json.dumps(v)}\n" for k, v in werte.items())
        text = text.replace(f"[{abschnitt}]\n", f"[{abschnitt}]\n{zusatz}", 1)
    umgebung.config.write_text(text, "utf-8")
    await umgebung.starte_bot()


def _gelesen(mensch: Mensch, event_id: str) -> bool:
    """Konnte die Person das Ereignis entschlüsseln? (Unlesbares bleibt `m.room.encrypted`.)"""
    gesehen = [e for _r, e in mensch.gesehen if e.get("event_id") == event_id]
    assert gesehen, f"{mensch.user_id} hat {event_id} nicht gesehen"
    return all(e.get("type") == "m.room.message" for e in gesehen)


async def _antwort_gesehen(umgebung: Umgebung, fragende: Mensch, *lesende: Mensch) -> str:
    frage = await fragende.sende(umgebung.raum_energie, "!status energie")
    antwort = str((await fragende.antwort_auf(frage, von=umgebung.bot_id))["event_id"])
    for mensch in lesende:
        await mensch.warte_auf(lambda _r, e: e.get("event_id") == antwort)
    return antwort


async def test_raumschluessel_nur_fuer_die_geraete_der_personen_der_struktur(
    verschluesselte_umgebung: Umgebung,
) -> None:
    # Im Energie-Raum sitzt auch jemand ohne Rolle in der Struktur: der Bot antwortet für alle
    # sichtbar, lesbar aber nur für die Personen der Struktur.
    umgebung = verschluesselte_umgebung
    antwort = await _antwort_gesehen(
        umgebung, umgebung.patin, umgebung.aussen, umgebung.patin_mobilitaet
    )
    assert _gelesen(umgebung.patin, antwort)
    assert _gelesen(umgebung.patin_mobilitaet, antwort)
    assert not _gelesen(umgebung.aussen, antwort)


async def test_neues_geraet_einer_patin_wird_der_stabsstelle_gemeldet(
    verschluesselte_umgebung: Umgebung, tmp_path: Path
) -> None:
    umgebung = verschluesselte_umgebung
    stab = await umgebung.patin.raum_anlegen(einladen=[], name="Stabsstelle")
    await _neu_gestartet_mit(
        umgebung, matrix={"neue_geraete_melden": True}, bot={"stabsstelle_raum": stab}
    )
    await umgebung.lade_bot_ein(stab)

    handy = await umgebung.patin.zweites_geraet(tmp_path / "handy")
    try:
        meldung = await umgebung.patin.warte_auf(
            lambda r, e: r == stab and "neues Gerät" in str(e.get("content", {}).get("body"))
        )
        assert handy.zugang.device_id in meldung["content"]["body"]
        assert meldung["content"]["msgtype"] == "m.notice"
    finally:
        await handy.schliessen()


async def test_streng_bekommen_nur_von_der_person_bestaetigte_geraete_raumschluessel(
    verschluesselte_umgebung: Umgebung, tmp_path: Path
) -> None:
    umgebung = verschluesselte_umgebung
    patin = umgebung.patin
    await umgebung.stoppe_bot()
    # Die Pat*in richtet Cross-Signing ein und bestätigt ihr erstes Gerät, das Handy nicht.
    await richte_ein(
        patin.client, patin.zugang.passwort, Kreuzsignatur(patin.user_id), [patin.zugang.device_id]
    )
    await _neu_gestartet_mit(umgebung, matrix={"nur_gegengezeichnete_geraete": True})
    handy = await patin.zweites_geraet(tmp_path / "handy")
    try:
        antwort = await _antwort_gesehen(umgebung, patin, handy, umgebung.koordination)
        assert _gelesen(patin, antwort)
        assert not _gelesen(handy, antwort)
        assert not _gelesen(umgebung.koordination, antwort)  # ohne Cross-Signing: nichts
    finally:
        await handy.schliessen()
