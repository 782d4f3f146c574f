"""Der nio-Client des Bots mit seinen Regeln für Ende-zu-Ende-Verschlüsselung: was entschlüsselt
durchkommt, Geräteschlüssel abfragen (samt Cross-Signing) und nach jedem Sync pflegen."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from nio import (
    Api,
    AsyncClient,
    KeysQueryResponse,
    KeysUploadResponse,
    LocalProtocolError,
    MegolmEvent,
    UnknownBadEvent,
)

from bot.vertrauen import Schluesselvertrauen

log = logging.getLogger(__name__)

# Was ein verschlüsseltes Ereignis sein darf. Mitgliedschaft, Löschungen und Raumzustand
# schickt der Homeserver immer im Klartext; verschlüsselt behauptet, ist es die Fälschung
# eines Raummitglieds (der Inhalt einer verschlüsselten Nachricht ist frei wählbar).
ENTSCHLUESSELT_ERLAUBT = frozenset({"m.room.message", "m.reaction"})


class VerworfenesEreignis(UnknownBadEvent):  # type: ignore[misc]
    """Steht statt eines entschlüsselten Ereignisses, das sich als etwas anderes ausgibt.

    Trägt nur das verschlüsselte Original: nio übergeht es wie jedes kaputte Ereignis (keine
    Mitgliederliste, kein Raumzustand), die Sync-Schleife überspringt es.
    """


def pruefe_entschluesseltes(verschluesselt: MegolmEvent, klar: Any, raum_id: str | None) -> Any:
    """Lässt aus einem entschlüsselten Ereignis nur Nachricht oder Reaktion dieses Raums durch."""
    quelle = getattr(klar, "source", None)
    typ = quelle.get("type") if isinstance(quelle, dict) else None
    behauptet = quelle.get("room_id", raum_id) if isinstance(quelle, dict) else None
    if (
        isinstance(quelle, dict)
        and typ in ENTSCHLUESSELT_ERLAUBT
        and "state_key" not in quelle
        and behauptet == raum_id
    ):
        return klar
    log.warning(
        "Verschlüsseltes Ereignis %s von %s in %s gibt sich als %r aus (Raum %r): verworfen",
        verschluesselt.event_id,
        verschluesselt.sender,
        raum_id,
        typ,
        behauptet,
    )
    return VerworfenesEreignis(verschluesselt.source)


class KlimabotClient(AsyncClient):  # type: ignore[misc]
    """nios Client mit einer Regel mehr: entschlüsselt wird nur Nachricht oder Reaktion.

    Jedes Entschlüsseln – im Sync, beim Nachholen eines Verlaufs, beim späten Entschlüsseln
    wartender Nachrichten – geht durch `Olm.decrypt_megolm_event`. Dort wird geprüft, bevor
    nio ein Ergebnis in die Mitgliederliste eines Raums übernimmt (sonst bekäme ein
    gefälschtes Mitglied die Raumschlüssel) oder die Verarbeitung es als Löschung liest.
    """

    def load_store(self) -> None:
        super().load_store()
        olm = self.olm
        if olm is None or getattr(olm, "_klimabot_geprueft", False):
            return
        entschluesseln = olm.decrypt_megolm_event

        def geprueft(ereignis: MegolmEvent, raum_id: str | None = None) -> Any:
            klar = entschluesseln(ereignis, raum_id)
            return pruefe_entschluesseltes(ereignis, klar, raum_id or ereignis.room_id)

        olm.decrypt_megolm_event = geprueft
        olm._klimabot_geprueft = True

    async def keys_query(self, personen: Iterable[str] | None = None) -> Any:
        """Wie nios `keys_query`, aber mit der ganzen Antwort (Cross-Signing) und auf Wunsch
        für ausdrücklich genannte Personen (auch schon bekannte)."""
        abzufragen = set(personen) if personen is not None else set(self.users_for_key_query)
        if not abzufragen:
            raise LocalProtocolError("No key query required.")
        methode, pfad, daten = Api.keys_query(self.access_token, abzufragen)
        return await self._send(Schluesselabfrage, methode, pfad, daten)


class Schluesselabfrage(KeysQueryResponse):  # type: ignore[misc]
    """nios Antwort auf `/keys/query`, dazu die ganze Antwort: nio liest kein Cross-Signing."""

    roh: dict[str, Any]

    @classmethod
    def from_dict(cls, parsed_dict: dict[str, Any]) -> Any:
        antwort = super().from_dict(parsed_dict)
        if isinstance(antwort, KeysQueryResponse):
            antwort.roh = parsed_dict
        return antwort


async def schluessel_abfragen(
    client: AsyncClient, vertrauen: Schluesselvertrauen | None = None
) -> None:
    """Holt die Geräteschlüssel der Mitglieder; neue und geänderte Geräte kommen ins Protokoll.

    Mit `vertrauen` (der Bot selbst) sagt die Protokollzeile auch, ob das Gerät Raumschlüssel
    bekommt, ein neues Gerät einer bekannten Person der Struktur wird gemeldet, und im strengen
    Modus werden die Cross-Signing-Angaben übernommen. Ohne (Testclients, Demo): wie Element.
    """
    abgefragt = set(client.users_for_key_query)
    vorher = {p: {g.id for g in client.device_store.active_user_devices(p)} for p in abgefragt}
    try:
        antwort = await client.keys_query()
    except LocalProtocolError:
        return  # nichts (mehr) abzufragen, etwa weil eine parallele Abfrage es schon tat
    if not isinstance(antwort, KeysQueryResponse):
        log.warning("Geräteschlüssel nicht abfragbar: %s", antwort.message)
        return
    personen = await vertrauen.personen() if vertrauen is not None else None
    for person, geraete in antwort.changed.items():
        for geraet_id, geraet in geraete.items():
            if getattr(geraet, "deleted", False):
                log.info("Gerät %s von %s abgemeldet", geraet_id, person)
            elif personen is not None and person not in personen:
                log.info(
                    "Gerät %s von %s neu oder geändert: gehört nicht zur Struktur, "
                    "bekommt keine Raumschlüssel",
                    geraet_id,
                    person,
                )
            else:
                log.info(
                    "Gerät %s von %s neu oder geändert: bekommt Raumschlüssel", geraet_id, person
                )
                if vertrauen is not None and vorher.get(person):
                    await vertrauen.neues_geraet(person, geraet_id, geraet.display_name)
    if vertrauen is not None and personen is not None and vertrauen.nur_gegengezeichnet:
        await vertrauen.kreuzsignaturen_gelesen(getattr(antwort, "roh", {}), abgefragt & personen)


async def pflege_schluessel(
    client: AsyncClient, vertrauen: Schluesselvertrauen | None = None
) -> bool:
    """Die Schlüsselpflege nach jedem Sync; `True`, wenn eigene Schlüssel hochgeladen wurden.

    Ohne Hochladen kann niemand dem Bot Schlüssel geben, ohne Abfrage bekommen neue
    Mitglieder seine Nachrichten nicht, ohne Beanspruchen keine Olm-Sitzung entsteht.
    """
    if client.olm is None:
        return False
    hochgeladen = False
    if client.should_upload_keys:
        antwort = await client.keys_upload()
        if isinstance(antwort, KeysUploadResponse):
            hochgeladen = True
        else:
            log.warning("Eigene Schlüssel nicht hochgeladen: %s", antwort.message)
    for raum_id, raum in list(client.rooms.items()):
        if raum.encrypted and not raum.members_synced:
            # Mit lazy loading kennt nio nur einen Teil der Mitglieder und überginge die neuen
            # Geräte der übrigen (geänderte Gerätelisten zählen nur für bekannte Mitglieder).
            await client.joined_members(raum_id)
    if client.should_query_keys:
        await schluessel_abfragen(client, vertrauen)
    if client.should_claim_keys:
        with contextlib.suppress(LocalProtocolError):
            await client.keys_claim(client.get_users_for_key_claiming())
    await client.send_to_device_messages()
    return hochgeladen
