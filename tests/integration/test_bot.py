"""Der Klimabot gegen einen echten Synapse: was Pat*innen und Koordinator*innen erleben."""

from __future__ import annotations

from nio import JoinedMembersResponse

from tests.integration.umgebung import Umgebung


async def test_status_energie_wird_mit_tabelle_beantwortet(umgebung: Umgebung) -> None:
    frage = await umgebung.koordination.sende(umgebung.raum_energie, "!status energie")
    antwort = await umgebung.koordination.antwort_auf(frage, von=umgebung.bot_id)
    inhalt = antwort["content"]
    assert inhalt["msgtype"] == "m.notice"
    assert "Kommunale Wärmeplanung" in inhalt["body"]
    assert "<table>" in inhalt["formatted_body"]
    assert inhalt["de.klimabot.projekte"] == ["waermeplanung", "pv-offensive"]


async def _status(umgebung: Umgebung, projekt: str) -> str:
    frage = await umgebung.aussen.sende(umgebung.raum_energie, f"!status {projekt}")
    antwort = await umgebung.aussen.antwort_auf(frage, von=umgebung.bot_id)
    return str(antwort["content"]["body"])


async def test_meldung_wird_gespeichert_und_mit_haken_quittiert(umgebung: Umgebung) -> None:
    meldung = await umgebung.patin.sende(
        umgebung.raum_energie, "!meldung waermeplanung gelb 40% Ausschreibung verzögert sich"
    )
    assert await umgebung.patin.reaktion_auf(meldung, von=umgebung.bot_id) == "✅"
    stand = await _status(umgebung, "waermeplanung")
    assert "🟡 gelb" in stand
    assert "40 %" in stand
    assert "Ausschreibung verzögert sich" in stand


async def test_reaktion_und_threadantwort_werden_meldungen_des_richtigen_projekts(
    umgebung: Umgebung,
) -> None:
    frage = await umgebung.patin.sende(umgebung.raum_energie, "!status pv-offensive")
    projektnachricht = (await umgebung.patin.antwort_auf(frage, von=umgebung.bot_id))["event_id"]

    await umgebung.patin.reagiere(umgebung.raum_energie, projektnachricht, "🔴")
    assert "🔴 rot" in await _status(umgebung, "pv-offensive")

    antwort = await umgebung.koordination.sende(
        umgebung.raum_energie, "gelb, 30 %, Dachstatik geprüft", thread=projektnachricht
    )
    assert await umgebung.koordination.reaktion_auf(antwort, von=umgebung.bot_id) == "✅"
    stand = await _status(umgebung, "pv-offensive")
    assert "🟡 gelb" in stand
    assert "Dachstatik geprüft" in stand
    # Die Wärmeplanung blieb unberührt.
    assert "🟢 grün" in await _status(umgebung, "waermeplanung")


async def test_bearbeiten_aendert_und_loeschen_zieht_zurueck(umgebung: Umgebung) -> None:
    meldung = await umgebung.patin.sende(umgebung.raum_energie, "!meldung waermeplanung gelb 40%")
    await umgebung.patin.reaktion_auf(meldung, von=umgebung.bot_id)
    bearbeitung = await umgebung.patin.bearbeite(
        umgebung.raum_energie, meldung, "!meldung waermeplanung rot 35% Förderung gestrichen"
    )
    await umgebung.patin.antwort_auf(meldung, von=umgebung.bot_id)
    assert bearbeitung
    stand = await _status(umgebung, "waermeplanung")
    assert "🔴 rot" in stand
    assert "Förderung gestrichen" in stand

    await umgebung.patin.loesche(umgebung.raum_energie, meldung)
    await umgebung.patin.warte_auf(
        lambda _r, e: (
            e.get("sender") == umgebung.bot_id
            and "zurückgezogen" in e.get("content", {}).get("body", "")
        )
    )
    assert "🟢 grün" in await _status(umgebung, "waermeplanung")


async def test_aussenstehende_werden_hoeflich_abgewiesen(umgebung: Umgebung) -> None:
    frage = await umgebung.aussen.sende(umgebung.raum_energie, "!meldung waermeplanung rot")
    antwort = await umgebung.aussen.antwort_auf(frage, von=umgebung.bot_id)
    assert "Themenpat*innen" in antwort["content"]["body"]
    frage = await umgebung.patin_mobilitaet.sende(
        umgebung.raum_energie, "!meldung waermeplanung rot"
    )
    antwort = await umgebung.patin_mobilitaet.antwort_auf(frage, von=umgebung.bot_id)
    assert "Anna Becker" in antwort["content"]["body"]
    assert "🟢 grün" in await _status(umgebung, "waermeplanung")


async def test_einladung_von_nicht_erlaubter_person_wird_abgelehnt(umgebung: Umgebung) -> None:
    raum = await umgebung.aussen.raum_anlegen(einladen=[umgebung.bot_id], name="Fremd")
    await umgebung.aussen.warte_auf(
        lambda r, e: (
            r == raum
            and e.get("type") == "m.room.member"
            and e.get("state_key") == umgebung.bot_id
            and e["content"].get("membership") == "leave"
        )
    )
    # Was die Einladende sieht: der Bot ist nicht im Raum und hat dort nichts geschrieben.
    mitglieder = await umgebung.aussen.client.joined_members(raum)
    assert isinstance(mitglieder, JoinedMembersResponse), mitglieder
    assert umgebung.bot_id not in {m.user_id for m in mitglieder.members}
    assert umgebung.aussen.nachrichten_von(umgebung.bot_id, raum) == []


async def test_script_und_markdown_kommen_maskiert_zurueck(umgebung: Umgebung) -> None:
    meldung = await umgebung.patin.sende(
        umgebung.raum_energie,
        "!meldung waermeplanung gelb <script>alert(1)</script> **fett** Herausforderung: <b>x</b>",
    )
    await umgebung.patin.reaktion_auf(meldung, von=umgebung.bot_id)
    for frage_text in ("!status waermeplanung", "!status energie"):
        frage = await umgebung.aussen.sende(umgebung.raum_energie, frage_text)
        html = (await umgebung.aussen.antwort_auf(frage, von=umgebung.bot_id))["content"][
            "formatted_body"
        ]
        assert "<script>" not in html
        assert "<b>x</b>" not in html
        assert "&lt;b&gt;x&lt;/b&gt;" in html


async def test_moderation_loescht_fremde_meldung_sie_bleibt_gespeichert(umgebung: Umgebung) -> None:
    # Die Pat*in hat den Raum angelegt und darf dort fremde Nachrichten löschen (Synapse lässt
    # es zu); die Meldung der Koordinatorin zieht sie damit nicht zurück – das darf nur diese.
    meldung = await umgebung.koordination.sende(
        umgebung.raum_energie, "!meldung waermeplanung rot 10% Förderung fehlt"
    )
    assert await umgebung.koordination.reaktion_auf(meldung, von=umgebung.bot_id) == "✅"
    await umgebung.patin.loesche(umgebung.raum_energie, meldung)
    assert "🔴 rot" in await _status(umgebung, "waermeplanung")

    await umgebung.koordination.loesche(umgebung.raum_energie, meldung)
    await umgebung.koordination.warte_auf(
        lambda _r, e: (
            e.get("sender") == umgebung.bot_id
            and "zurückgezogen" in e.get("content", {}).get("body", "")
        )
    )
    assert "🔴 rot" not in await _status(umgebung, "waermeplanung")
