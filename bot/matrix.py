"""Die Verbindung zum Homeserver mit matrix-nio: Anmeldung, Sync-Schleife, Einladungen, Senden.

Die Sync-Schleife ist selbst geschrieben statt `sync_forever` mit Callbacks: so sieht der
Bot Einladungen schon im ersten Sync, holt nach einem Ausfall abgeschnittene Verläufe
nach und speichert die Sync-Position erst, wenn alle Ereignisse eines Stapels behandelt
sind. nio wartet nie selbst auf Ratenlimits oder Netzfehler (sonst stünde die Schleife
still); das übernehmen die Schleife und der Ausgangskorb.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
import uuid
from collections.abc import Awaitable, Iterable
from typing import Any

from aiohttp import ClientError
from nio import (
    Api,
    AsyncClient,
    AsyncClientConfig,
    EncryptionError,
    Event,
    JoinedRoomsResponse,
    KeysQueryResponse,
    KeysUploadResponse,
    LocalProtocolError,
    LoginResponse,
    MegolmEvent,
    MessageDirection,
    RoomCreateResponse,
    RoomGetStateEventResponse,
    RoomLeaveResponse,
    RoomMessagesError,
    RoomPreset,
    RoomSendResponse,
    ShareGroupSessionResponse,
    SyncError,
    SyncResponse,
    UnknownBadEvent,
    UploadFilterResponse,
    UploadResponse,
    WhoamiResponse,
)
from nio.store import SqliteStore
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import MatrixEinstellungen
from bot.geheimnisse import (
    NichtEntschluesselbar,
    entschluessele,
    ist_verschluesselt,
    lege_ordner_an,
    merke_geheimnisse,
    verschluessele,
)
from bot.raeume import Raumverwaltung
from bot.transport import (
    EndgueltigerFehler,
    Mitgliedschaft,
    NichtImRaum,
    Ratenlimit,
    Sendefehler,
    UnbekannterFehler,
    VoruebergehenderFehler,
)
from bot.verarbeitung import DatenbankNichtErreichbar, Ereignis, Verarbeitung
from bot.vertrauen import Schluesselvertrauen
from modelle.datenbank import Sitzungsfabrik, nicht_erreichbar, tilge_ueberschriebenes
from modelle.tabellen import VerarbeitetesEreignis, Zustand

log = logging.getLogger(__name__)

# Was der Bot vom Sync braucht: Nachrichten, Reaktionen, Löschungen, Mitgliedschaft.
# Keine Präsenz, keine Tipp-/Lesebestätigungen, Mitglieder nur bei Bedarf (lazy loading).
SYNC_FILTER: dict[str, Any] = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {
        "state": {"lazy_load_members": True},
        "timeline": {
            "lazy_load_members": True,
            "limit": 100,
            "types": [
                "m.room.message",
                "m.room.encrypted",
                "m.reaction",
                "m.room.redaction",
                "m.room.member",
                # Wird ein Raum nachträglich verschlüsselt, muss der Bot es erfahren – sonst
                # schriebe er dort weiter Klartext.
                "m.room.encryption",
            ],
        },
        "ephemeral": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
    },
}
# Erster Start überhaupt: alte Verläufe nicht beantworten, nur Einladungen sehen.
ERSTER_SYNC_FILTER: dict[str, Any] = {
    **SYNC_FILTER,
    "room": {**SYNC_FILTER["room"], "timeline": {"limit": 0}},
}
NACHHOLEN_HOECHSTENS = 50  # Seiten à 100 Ereignisse je Raum nach einem Ausfall
# Nicht entschlüsselbare Ereignisse, die auf ihren Schlüssel warten (die ältesten fallen raus).
WARTEND_HOECHSTENS = 500

# Verschlüsselt (`bot.geheimnisse`); ältere Fassungen schrieben es im Klartext.
ZUGANGSTOKEN = "matrix.zugangstoken"
GERAET = "matrix.geraet"
BENUTZER = "matrix.benutzer"
SYNC_POSITION = "matrix.sync_position"
VERSCHLUESSELUNG = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}
# Das Gerät, dessen Schlüssel beim Homeserver liegen (nach dem ersten Hochladen gesetzt).
SCHLUESSEL_GERAET = "matrix.schluessel_geraet"
# Zustandsereignis in Direkträumen, die der Bot anlegt: `{"kennung": …, "person": …}`
# (siehe `bot.ausgang`: so findet er einen Raum wieder, dessen ID er sich nicht mehr merken konnte).
DIREKTRAUM_KENNUNG = "de.klimabot.direktraum"
# Fehlercodes, bei denen ein erneuter Versuch nie hilft.
_NIE_ZU_SENDEN = frozenset({"M_BAD_JSON", "M_NOT_JSON", "M_TOO_LARGE"})
# Das Konto als Ganzes ist betroffen, nicht ein Raum: warten, bis es wieder geht.
_KONTO_WEG = frozenset({"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"})
# Gateway ohne Homeserver dahinter (Reverse-Proxy während eines Neustarts).
_SERVER_WEG = frozenset({502, 503, 504})


VORUEBERGEHEND = (ClientError, TimeoutError, VoruebergehenderFehler, DatenbankNichtErreichbar)


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


class AnmeldungFehlgeschlagen(Exception):
    """Die Anmeldung ist unmöglich (falsches Passwort, Token eines anderen Kontos)."""


async def lies_zustand(sitzung: AsyncSession, schluessel: str) -> str | None:
    return await sitzung.scalar(select(Zustand.wert).where(Zustand.schluessel == schluessel))


async def setze_zustand(sitzung: AsyncSession, schluessel: str, wert: str) -> None:
    zeile = await sitzung.get(Zustand, schluessel)
    if zeile is None:
        sitzung.add(Zustand(schluessel=schluessel, wert=wert))
    else:
        zeile.wert = wert


def neuer_client(einstellungen: MatrixEinstellungen) -> AsyncClient:
    passwort = einstellungen.schluesselpasswort
    konfiguration = AsyncClientConfig(
        max_limit_exceeded=0,
        max_timeouts=0,
        request_timeout=90,
        encryption_enabled=einstellungen.verschluesselung,
        # SqliteStore hält auch die Vertrauensstufen der Geräte in der Datenbank (nicht wie
        # nios Vorgabe in Klartextdateien daneben).
        store=SqliteStore,
        pickle_key=passwort.get_secret_value() if passwort is not None else "",
    )
    speicher = ""
    if einstellungen.verschluesselung and einstellungen.schluesselspeicher is not None:
        lege_ordner_an(einstellungen.schluesselspeicher)  # nio legt ihn nicht an; nur für den Bot
        speicher = str(einstellungen.schluesselspeicher)
    return KlimabotClient(
        einstellungen.homeserver, einstellungen.benutzer, store_path=speicher, config=konfiguration
    )


def _speicher_fehlt(client: AsyncClient, einstellungen: MatrixEinstellungen, geraet: str) -> bool:
    """Ob der Schlüsselspeicher dieses Geräts fehlt (dann darf das Gerät nicht weiterlaufen)."""
    if not einstellungen.verschluesselung or einstellungen.schluesselspeicher is None:
        return False
    return not (einstellungen.schluesselspeicher / f"{client.user}_{geraet}.db").exists()


async def anmelden(
    client: AsyncClient, einstellungen: MatrixEinstellungen, sitzungen: Sitzungsfabrik
) -> None:
    """Meldet den Bot an und behält sein Gerät über Neustarts (nie ein neues Gerät je Start).

    Mit Verschlüsselung lädt die Anmeldung auch den Schlüsselspeicher des Geräts. Hatte das
    Gerät schon Schlüssel und der Speicher ist verloren, wäre das Gerät für alle anderen
    kaputt (andere Schlüssel unter derselben Geräte-ID): dann meldet sich der Bot als neues
    Gerät an und sagt das laut.

    Das Zugangstoken liegt nur verschlüsselt in der Datenbank (`_tresorpasswort`). Ein
    Klartext-Token einer älteren Fassung wird noch benutzt, verschlüsselt neu geschrieben und
    samt Resten getilgt. Ist das gespeicherte nicht zu entschlüsseln (Passwort geändert),
    meldet sich der Bot mit dem Passwort neu an – als dasselbe Gerät. Mit konfiguriertem
    Zugangstoken speichert er keines.
    """
    async with sitzungen() as sitzung:
        gespeichert = await lies_zustand(sitzung, ZUGANGSTOKEN)
        geraet = await lies_zustand(sitzung, GERAET)
        benutzer = await lies_zustand(sitzung, BENUTZER)
        verschluesselt_als = await lies_zustand(sitzung, SCHLUESSEL_GERAET)
    klartext = gespeichert is not None and not ist_verschluesselt(gespeichert)
    tresor = _tresorpasswort(einstellungen)
    if einstellungen.zugangstoken is not None:
        konfiguriert = einstellungen.zugangstoken.get_secret_value()
        client.access_token = konfiguriert
        antwort = await _pruefe_wer(client, einstellungen.benutzer)
        if verschluesselt_als == antwort.device_id and _speicher_fehlt(
            client, einstellungen, antwort.device_id
        ):
            raise AnmeldungFehlgeschlagen(
                f"Der Schlüsselspeicher von Gerät {antwort.device_id} fehlt in "
                f"{einstellungen.schluesselspeicher}. Mit diesem Zugangstoken kann der Bot "
                "nicht als neues Gerät starten: bitte ein neues Zugangstoken (neues Gerät) "
                "eintragen oder stattdessen das Passwort konfigurieren."
            )
        client.restore_login(antwort.user_id, antwort.device_id, konfiguriert)
        if gespeichert is not None:
            await _lege_token_ab(sitzungen, None, einstellungen, tilgen=klartext)
        log.info("Angemeldet mit konfiguriertem Zugangstoken, Gerät %s", client.device_id)
        return
    token: str | None = None
    if benutzer != einstellungen.benutzer:
        geraet = None
    elif (
        geraet is not None
        and verschluesselt_als == geraet
        and _speicher_fehlt(client, einstellungen, geraet)
    ):
        log.error(
            "SCHLÜSSELSPEICHER VERLOREN: %s enthält die Schlüssel von Gerät %s nicht mehr. "
            "Der Bot meldet sich als neues Gerät an; ältere verschlüsselte Nachrichten kann "
            "er nicht mehr lesen, neue schon. Das alte Gerät %s bitte in den "
            "Sitzungseinstellungen des Bot-Kontos abmelden.",
            einstellungen.schluesselspeicher,
            geraet,
            geraet,
        )
        geraet = None
    elif gespeichert is not None:
        token = await _entschluesselt(gespeichert, tresor, einstellungen.benutzer)
    if token and geraet:
        client.access_token = token
        antwort = await client.whoami()
        if isinstance(antwort, WhoamiResponse):
            await _pruefe_wer(client, einstellungen.benutzer, antwort)
            client.restore_login(einstellungen.benutzer, geraet, token)
            if klartext:
                await _lege_token_ab(sitzungen, token, einstellungen, tilgen=True)
                log.info("Gespeichertes Zugangstoken jetzt verschlüsselt (war Klartext)")
            log.info("Gespeicherte Anmeldung wiederverwendet, Gerät %s", geraet)
            return
        log.warning("Gespeichertes Zugangstoken ungültig (%s); neue Anmeldung", antwort.message)
        client.access_token = ""
    if einstellungen.passwort is None:
        raise AnmeldungFehlgeschlagen(
            "Kein gültiges Zugangstoken gespeichert und kein Passwort konfiguriert."
        )
    # Mit bekanntem Gerät anmelden, damit es dasselbe Gerät bleibt.
    client.device_id = geraet or ""
    anmeldung = await client.login(
        einstellungen.passwort.get_secret_value(), device_name=einstellungen.geraetename
    )
    if not isinstance(anmeldung, LoginResponse):
        raise AnmeldungFehlgeschlagen(
            f"Anmeldung als {einstellungen.benutzer} fehlgeschlagen: {anmeldung.message}"
        )
    merke_geheimnisse(anmeldung.access_token)
    await _pruefe_wer(client, einstellungen.benutzer)
    await _lege_token_ab(
        sitzungen,
        anmeldung.access_token,
        einstellungen,
        tilgen=klartext,
        geraet=anmeldung.device_id,
        benutzer=anmeldung.user_id,
    )
    log.info("Mit Passwort angemeldet, Gerät %s", anmeldung.device_id)


def _tresorpasswort(einstellungen: MatrixEinstellungen) -> str | None:
    """Woraus der Schlüssel des gespeicherten Zugangstokens entsteht.

    Das Schlüsselpasswort (es schützt schon die Geräteschlüssel im Schlüsselspeicher), ohne
    Verschlüsselung das Passwort. Ohne beides (nur ein konfiguriertes Zugangstoken) wird
    kein Token gespeichert.
    """
    for geheim in (einstellungen.schluesselpasswort, einstellungen.passwort):
        if geheim is not None and geheim.get_secret_value():
            return geheim.get_secret_value()
    return None


def _zweck(benutzer: str) -> str:
    # Mit unterschrieben: ein Token gilt nur für das Konto, für das es gespeichert wurde.
    return f"{ZUGANGSTOKEN} {benutzer}"


async def _entschluesselt(gespeichert: str, tresor: str | None, benutzer: str) -> str | None:
    """Das gespeicherte Token im Klartext; `None`, wenn es nicht zu entschlüsseln ist."""
    if not ist_verschluesselt(gespeichert):
        token = gespeichert  # eine ältere Fassung schrieb es im Klartext
    elif tresor is None:
        return None
    else:
        try:
            # scrypt braucht ~0,1 s: nicht in der Ereignisschleife.
            token = await asyncio.to_thread(entschluessele, gespeichert, tresor, _zweck(benutzer))
        except NichtEntschluesselbar:
            log.warning(
                "Gespeichertes Zugangstoken nicht zu entschlüsseln (Schlüssel- oder Passwort "
                "geändert?); neue Anmeldung mit Passwort als dasselbe Gerät"
            )
            return None
    merke_geheimnisse(token)
    return token


async def _lege_token_ab(
    sitzungen: Sitzungsfabrik,
    token: str | None,
    einstellungen: MatrixEinstellungen,
    *,
    tilgen: bool,
    geraet: str | None = None,
    benutzer: str | None = None,
) -> None:
    """Speichert `token` verschlüsselt (`None`: keines) samt Gerät und Konto, falls genannt.

    `tilgen`: ein Klartext-Token wurde ersetzt; seine Reste verschwinden auch aus der Datei.
    """
    tresor = _tresorpasswort(einstellungen)
    wert = None
    if token is not None and tresor is not None:
        zweck = _zweck(benutzer or einstellungen.benutzer)
        wert = await asyncio.to_thread(verschluessele, token, tresor, zweck)
    async with sitzungen.begin() as sitzung:
        if wert is None:
            await sitzung.execute(delete(Zustand).where(Zustand.schluessel == ZUGANGSTOKEN))
        else:
            await setze_zustand(sitzung, ZUGANGSTOKEN, wert)
        if geraet is not None:
            await setze_zustand(sitzung, GERAET, geraet)
        if benutzer is not None:
            await setze_zustand(sitzung, BENUTZER, benutzer)
    if tilgen:
        log.info("Reste des Klartext-Tokens werden aus der Datenbankdatei getilgt")
        await tilge_ueberschriebenes(sitzungen)


async def _pruefe_wer(
    client: AsyncClient, erwartet: str, antwort: WhoamiResponse | None = None
) -> WhoamiResponse:
    if antwort is None:
        ergebnis = await client.whoami()
        if not isinstance(ergebnis, WhoamiResponse):
            raise AnmeldungFehlgeschlagen(f"Zugangstoken wird nicht angenommen: {ergebnis.message}")
        antwort = ergebnis
    if antwort.user_id != erwartet:
        raise AnmeldungFehlgeschlagen(
            f"Das Zugangstoken gehört zu {antwort.user_id}, konfiguriert ist {erwartet}."
        )
    if not antwort.device_id:
        raise AnmeldungFehlgeschlagen("Der Homeserver nennt zum Zugangstoken kein Gerät.")
    return antwort


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


class NioTransport:
    """`bot.transport.Transport` über matrix-nio.

    Hier allein wird entschieden, was verschlüsselt hinausgeht und an wen: in verschlüsselten
    Räumen jedes Ereignis – auch Reaktionen, die nios `room_send` im Klartext schickte – und
    jede hochgeladene Datei; die Raumschlüssel bekommen nur die Geräte, die `vertrauen` nennt
    (`bot/vertrauen.py`). Ohne `vertrauen` – nur für die Menschen in Demo und Tests – alle
    Geräte aller Mitglieder, wie Element es tut.
    """

    def __init__(self, client: AsyncClient, vertrauen: Schluesselvertrauen | None = None) -> None:
        self._client = client
        self._vertrauen = vertrauen
        # Frisch angelegte Direkträume → eingeladene Person. Bis ihre Einladung im Sync
        # steht, ginge der Raumschlüssel an niemanden: so lange wird nicht gesendet.
        self._eingeladen: dict[str, str] = {}
        # Je Raum höchstens ein Teilen zugleich (Antworten und Hinweise können sich kreuzen).
        self._teilen: dict[str, asyncio.Lock] = {}

    async def sende(
        self, raum_id: str, ereignistyp: str, inhalt: dict[str, Any], txn_id: str
    ) -> str:
        client = self._client
        try:
            if self._verschluesselt(raum_id):
                await self._raumschluessel_teilen(raum_id)
                ereignistyp, inhalt = client.encrypt(raum_id, ereignistyp, inhalt)
            methode, pfad, daten = Api.room_send(
                client.access_token, raum_id, ereignistyp, inhalt, txn_id
            )
            antwort = await client._send(RoomSendResponse, methode, pfad, daten, (raum_id,))
        except (ClientError, TimeoutError) as fehler:
            raise VoruebergehenderFehler(f"{type(fehler).__name__}: {fehler}") from fehler
        except LocalProtocolError as fehler:
            # nio weiß nicht weiter (etwa: Mitglieder des Raums nicht abrufbar): begrenzt.
            raise UnbekannterFehler(f"{type(fehler).__name__}: {fehler}") from fehler
        if isinstance(antwort, RoomSendResponse):
            return str(antwort.event_id)
        raise self._fehler(antwort)

    def _verschluesselt(self, raum_id: str) -> bool:
        if self._client.olm is None:
            return False
        raum = self._client.rooms.get(raum_id)
        if raum is None:
            if not self._client.next_batch:
                # Vor dem ersten Sync nach dem Start kennt nio noch gar keinen Raum.
                raise VoruebergehenderFehler(f"Raum {raum_id}: noch kein Sync seit dem Start")
            raise NichtImRaum(f"Raum {raum_id}: der Bot ist nicht darin")
        gast = self._eingeladen.get(raum_id)
        if gast is not None and gast not in raum.users:
            # Ein eben angelegter Direktraum: erst der nächste Sync bringt seine Mitglieder.
            raise VoruebergehenderFehler(f"Raum {raum_id} ist noch nicht synchronisiert")
        self._eingeladen.pop(raum_id, None)
        return bool(raum.encrypted) or raum_id in self._client.encrypted_rooms

    async def _raumschluessel_teilen(self, raum_id: str) -> None:
        """Sorgt dafür, dass genau die vertrauten Geräte den Raumschlüssel des Bots haben."""
        client = self._client
        assert client.olm is not None
        if not client.rooms[raum_id].members_synced:
            await client.joined_members(raum_id)
        if client.should_query_keys:
            await schluessel_abfragen(client, self._vertrauen)
        if self._vertrauen is None:
            if not client.olm.should_share_group_session(raum_id):
                return
            laufend = client.sharing_session.get(raum_id)
            if laufend is not None:
                await laufend.wait()
                return
            await client.share_group_session(raum_id, ignore_unverified_devices=True)
            return
        sperre = self._teilen.setdefault(raum_id, asyncio.Lock())
        async with sperre:
            await self._teile_mit_vertrauten(raum_id, self._vertrauen)

    async def _vertraute_geraete(
        self, raum_id: str, vertrauen: Schluesselvertrauen
    ) -> tuple[list[str], dict[tuple[str, str], Any]]:
        """Die Mitglieder des Raums, denen der Bot vertraut, und ihre vertrauten Geräte."""
        client = self._client
        vertraute = await vertrauen.personen()
        personen = sorted(
            p for p in client.rooms[raum_id].users if p in vertraute and p != client.user_id
        )
        if vertrauen.nur_gegengezeichnet:
            unbekannt = [p for p in personen if vertrauen.bestaetigte_geraete(p) is None]
            if unbekannt:
                antwort = await client.keys_query(unbekannt)
                if isinstance(antwort, KeysQueryResponse):
                    await vertrauen.kreuzsignaturen_gelesen(getattr(antwort, "roh", {}), unbekannt)
        geraete: dict[tuple[str, str], Any] = {}
        for person in personen:
            bestaetigt = vertrauen.bestaetigte_geraete(person)
            for geraet in client.device_store.active_user_devices(person):
                if vertrauen.nur_gegengezeichnet and geraet.id not in (bestaetigt or ()):
                    continue
                geraete[(person, geraet.id)] = geraet
        return personen, geraete

    async def _teile_mit_vertrauten(self, raum_id: str, vertrauen: Schluesselvertrauen) -> None:
        client = self._client
        olm = client.olm
        assert olm is not None
        personen, geraete = await self._vertraute_geraete(raum_id, vertrauen)
        fehlend: dict[str, list[str]] = {}
        for (person, geraet_id), geraet in geraete.items():
            if olm.session_store.get(geraet.curve25519) is None:
                fehlend.setdefault(person, []).append(geraet_id)
        if fehlend:
            await client.keys_claim(fehlend)
        # Wer keine Olm-Sitzung hat (keine Einmalschlüssel), ist gerade nicht erreichbar.
        ziel = {
            schluessel
            for schluessel, geraet in geraete.items()
            if olm.session_store.get(geraet.curve25519) is not None
        }
        sitzung = olm.outbound_group_sessions.get(raum_id)
        if sitzung is not None and sitzung.shared and not sitzung.expired:
            zu_viel = sitzung.users_shared_with - ziel
            neu = ziel - sitzung.users_shared_with
            if not zu_viel and not neu:
                return
            if zu_viel:
                log.info(
                    "Raumschlüssel in %s erneuert: %s bekommen ihn nicht mehr",
                    raum_id,
                    ", ".join(f"{p}/{g}" for p, g in sorted(zu_viel)),
                )
        # Eine neue Sitzung: so hat sie genau die vertrauten Geräte, nicht mehr, nicht weniger.
        olm.create_outbound_group_session(raum_id)
        sitzung = olm.outbound_group_sessions[raum_id]
        # Geräte vertrauter Personen, die nicht bestätigt sind: für diese Sitzung übergangen.
        sitzung.users_ignored.update(
            (p, g.id)
            for p in personen
            for g in client.device_store.active_user_devices(p)
            if (p, g.id) not in ziel
        )
        anfragen = []
        for mit, nachrichten in olm.share_group_session_parallel(
            raum_id, personen, ignore_unverified_devices=True
        ):
            methode, pfad, daten = Api.to_device(
                client.access_token, "m.room.encrypted", nachrichten, uuid.uuid4()
            )
            anfragen.append(
                client._send(
                    ShareGroupSessionResponse, methode, pfad, daten, response_data=(raum_id, mit)
                )
            )
        for antwort in await asyncio.gather(*anfragen):
            if not isinstance(antwort, ShareGroupSessionResponse):
                log.warning("Raumschlüssel für %s nicht überall zugestellt: %s", raum_id, antwort)
        # Auch ohne Empfänger gilt die Sitzung als geteilt (sonst ginge nichts hinaus);
        # wer fehlt, bekommt beim nächsten Senden eine neue.
        sitzung.shared = True

    async def lade_hoch(
        self, raum_id: str, daten: bytes, mimetype: str, dateiname: str
    ) -> dict[str, Any]:
        verschluesselt = self._verschluesselt(raum_id)
        try:
            antwort, schluessel = await self._client.upload(
                io.BytesIO(daten),
                content_type=mimetype,
                filename=dateiname,
                filesize=len(daten),
                encrypt=verschluesselt,
            )
        except (ClientError, TimeoutError) as fehler:
            raise VoruebergehenderFehler(f"Hochladen: {fehler}") from fehler
        if not isinstance(antwort, UploadResponse):
            raise self._fehler(antwort)
        if verschluesselt:
            return {"file": {"url": str(antwort.content_uri), "mimetype": mimetype, **schluessel}}
        return {"url": str(antwort.content_uri)}

    async def erstelle_direktraum(self, matrix_id: str, kennung: str) -> str:
        zustand: list[dict[str, Any]] = [
            {
                "type": DIREKTRAUM_KENNUNG,
                "state_key": "",
                "content": {"kennung": kennung, "person": matrix_id},
            }
        ]
        if self._client.olm is not None:
            zustand.append(VERSCHLUESSELUNG)
        try:
            antwort = await self._client.room_create(
                is_direct=True,
                invite=[matrix_id],
                name="Klimabot",
                preset=RoomPreset.trusted_private_chat,
                initial_state=zustand,
            )
        except (ClientError, TimeoutError) as fehler:
            raise VoruebergehenderFehler(f"Direktraum: {fehler}") from fehler
        if isinstance(antwort, RoomCreateResponse):
            if self._client.olm is not None:
                # Schon vor dem ersten Sync des Raums als verschlüsselt bekannt: nie Klartext.
                self._client.encrypted_rooms.add(antwort.room_id)
                self._eingeladen[antwort.room_id] = matrix_id
            return str(antwort.room_id)
        raise self._fehler(antwort)

    async def finde_direktraum(self, kennung: str) -> str | None:
        try:
            raeume = await self._client.joined_rooms()
            if not isinstance(raeume, JoinedRoomsResponse):
                raise self._fehler(raeume)
            for raum_id in raeume.rooms:
                zustand = await self._client.room_get_state_event(raum_id, DIREKTRAUM_KENNUNG)
                if not isinstance(zustand, RoomGetStateEventResponse):
                    if getattr(zustand, "status_code", None) in ("M_NOT_FOUND", "M_FORBIDDEN"):
                        continue  # kein Direktraum des Bots
                    # Sonst wüsste der Bot nicht, ob es ihn gibt: lieber später erneut suchen.
                    raise self._fehler(zustand)
                if zustand.content.get("kennung") == kennung:
                    person = zustand.content.get("person")
                    if self._client.olm is not None and isinstance(person, str):
                        # Wie frisch angelegt: gesendet wird erst, wenn der Sync die Person
                        # im Raum zeigt, sonst bekäme sie den Raumschlüssel nicht.
                        self._eingeladen[raum_id] = person
                    return str(raum_id)
        except (ClientError, TimeoutError) as fehler:
            raise VoruebergehenderFehler(f"Direktraum suchen: {fehler}") from fehler
        return None

    async def mitgliedschaft(self, raum_id: str, matrix_id: str) -> Mitgliedschaft | None:
        try:
            antwort = await self._client.room_get_state_event(raum_id, "m.room.member", matrix_id)
        except (ClientError, TimeoutError) as fehler:
            raise VoruebergehenderFehler(f"Mitgliedschaft: {fehler}") from fehler
        if isinstance(antwort, RoomGetStateEventResponse):
            wert = antwort.content.get("membership")
            if wert in ("join", "invite", "leave", "ban", "knock"):
                return wert  # type: ignore[no-any-return]
            return None
        if getattr(antwort, "status_code", None) == "M_NOT_FOUND":
            return None  # war nie Mitglied
        raise self._fehler(antwort)

    async def verlasse(self, raum_id: str) -> None:
        try:
            antwort = await self._client.room_leave(raum_id)
        except (ClientError, TimeoutError) as fehler:
            raise VoruebergehenderFehler(f"Raum verlassen: {fehler}") from fehler
        if not isinstance(antwort, RoomLeaveResponse):
            raise self._fehler(antwort)

    @staticmethod
    def _fehler(antwort: Any) -> Sendefehler:
        """Die Art eines Fehlers des Homeservers (siehe `bot.transport`)."""
        code = getattr(antwort, "status_code", None)
        http = getattr(getattr(antwort, "transport_response", None), "status", None)
        text = f"{code}: {getattr(antwort, 'message', antwort)}"
        if code == "M_LIMIT_EXCEEDED" or http == 429:
            return Ratenlimit(int(getattr(antwort, "retry_after_ms", None) or 1000))
        if code in ("M_FORBIDDEN", "M_NOT_FOUND"):
            return NichtImRaum(text)
        if code in _NIE_ZU_SENDEN:
            return EndgueltigerFehler(text)
        if code in _KONTO_WEG or http is None or http in _SERVER_WEG:
            return VoruebergehenderFehler(text)
        return UnbekannterFehler(text)


# So oft höchstens schreibt die Sync-Schleife ihre Position (und beim Anhalten).
POSITION_SPEICHERN_S = 5.0


class Syncschleife:
    """Holt Ereignisse vom Homeserver und gibt jedes genau einmal an die Verarbeitung.

    „Genau einmal“ sichert der Vermerk je Ereignis (`VerarbeitetesEreignis`), nicht die
    Sync-Position: die ist nur der Punkt, ab dem nach einem Neustart gelesen wird. Deshalb
    wird sie höchstens alle `POSITION_SPEICHERN_S` geschrieben statt nach jedem Stapel –
    jeder Befehl brachte sonst zwei Schreibtransaktionen mehr (sein Stapel und der mit der
    eigenen Antwort), genau während die Antwort unterwegs ist. Nach einem Absturz liest der
    Bot die paar Sekunden noch einmal und überspringt, was schon behandelt ist.
    """

    def __init__(
        self,
        client: AsyncClient,
        einstellungen: MatrixEinstellungen,
        sitzungen: Sitzungsfabrik,
        verarbeitung: Verarbeitung,
        *,
        raeume: Raumverwaltung,
        laengste_pause: float = 30.0,
        vertrauen: Schluesselvertrauen | None = None,
    ) -> None:
        self._client = client
        self._raeume = raeume
        self._vertrauen = vertrauen
        self._einstellungen = einstellungen
        self._sitzungen = sitzungen
        self._verarbeitung = verarbeitung
        self._laengste_pause = laengste_pause
        self.bereit = asyncio.Event()
        self._halt = asyncio.Event()
        self._gespeichert: tuple[str | None, float] = (None, -POSITION_SPEICHERN_S)
        # Ereignis-ID → (Raum, Ereignis) für Nachrichten, deren Schlüssel noch fehlt.
        self._wartend: dict[str, tuple[str, MegolmEvent]] = {}

    def anhalten(self) -> None:
        """Beendet die Schleife nach dem gerade behandelten Ereignis."""
        self._halt.set()

    async def laufen(self) -> None:
        filter_id = await self._filter(SYNC_FILTER)
        async with self._sitzungen() as sitzung:
            position = await lies_zustand(sitzung, SYNC_POSITION)
        self._gespeichert = (position, self._gespeichert[1])
        pause = 1.0
        while not self._halt.is_set():
            erster = position is None
            try:
                antwort = await self._warte_auf(
                    self._client.sync(
                        # Der erste Sync nach dem Start holt sofort nach, erst danach Long-Poll.
                        timeout=30_000 if self.bereit.is_set() else 0,
                        since=position,
                        sync_filter=await self._filter(ERSTER_SYNC_FILTER) if erster else filter_id,
                        # Nach dem Start kennt nio keine Räume (und nicht, welche verschlüsselt
                        # sind); der volle Zustand stellt sie her, ohne Ereignisse neu zu liefern.
                        full_state=not self.bereit.is_set(),
                    )
                )
                if antwort is None:
                    break
                if isinstance(antwort, SyncError):
                    raise VoruebergehenderFehler(f"{antwort.status_code}: {antwort.message}")
                await self._schluessel(antwort)
                fertig = await self._stapel(antwort, nachholen=not erster)
                if not fertig:
                    break
                position = antwort.next_batch
                if time.monotonic() - self._gespeichert[1] >= POSITION_SPEICHERN_S:
                    await self._speichere_position(position)
                await self._raeume_pflegen(antwort)
                pause = 1.0
                self.bereit.set()
            except Exception as fehler:
                # Netz, Homeserver oder Datenbank (auch beim Speichern der Position) vorübergehend
                # weg: den Stapel wiederholen. Alles andere ist ein Programmfehler.
                if not (isinstance(fehler, VORUEBERGEHEND) or nicht_erreichbar(fehler)):
                    raise
                log.warning("Sync unterbrochen (%s); neuer Versuch in %.0f s", fehler, pause)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._halt.wait(), timeout=pause)
                pause = min(pause * 2, self._laengste_pause)
        if position is not None and position != self._gespeichert[0]:
            try:
                await self._speichere_position(position)
            except Exception as fehler:
                if not nicht_erreichbar(fehler):
                    raise
                log.warning("Sync-Position beim Anhalten nicht gespeichert (%s)", fehler)

    async def _raeume_pflegen(self, antwort: SyncResponse) -> None:
        """Beitritte, Abgänge, Abgleich mit der Struktur; ein Fehler darin hält nichts an."""
        try:
            await self._raeume.nach_stapel(antwort)
        except Exception as fehler:
            if isinstance(fehler, VORUEBERGEHEND) or nicht_erreichbar(fehler):
                log.warning("Abgleich der Räume verschoben (%s)", fehler)
            else:
                log.exception("Abgleich der Räume gescheitert")

    async def _speichere_position(self, position: str) -> None:
        async with self._sitzungen.begin() as sitzung:
            await setze_zustand(sitzung, SYNC_POSITION, position)
        self._gespeichert = (position, time.monotonic())

    async def _warte_auf(self, anfrage: Awaitable[Any]) -> Any:
        """Wartet auf eine Anfrage, außer der Bot soll anhalten (dann `None`)."""
        aufgabe = asyncio.ensure_future(anfrage)
        halt = asyncio.ensure_future(self._halt.wait())
        try:
            await asyncio.wait({aufgabe, halt}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            halt.cancel()
        if not aufgabe.done():
            aufgabe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await aufgabe
            return None
        return aufgabe.result()

    async def _filter(self, definition: dict[str, Any]) -> str:
        antwort = await self._client.upload_filter(
            presence=definition.get("presence"),
            account_data=definition.get("account_data"),
            room=definition.get("room"),
        )
        if not isinstance(antwort, UploadFilterResponse):
            raise VoruebergehenderFehler(f"Filter nicht angenommen: {antwort.message}")
        return str(antwort.filter_id)

    async def _schluessel(self, antwort: SyncResponse) -> None:
        """Schlüsselpflege nach dem Sync; danach Wartendes, dessen Schlüssel jetzt da ist."""
        if self._client.olm is None:
            return
        try:
            hochgeladen = await pflege_schluessel(self._client, self._vertrauen)
        except (ClientError, TimeoutError):
            raise  # Netz: der ganze Stapel wird wiederholt
        except Exception:
            # Ein Fehler in nios Schlüsselpflege darf das Lesen nicht anhalten; der nächste
            # Sync versucht es erneut.
            log.exception("Schlüsselpflege gescheitert")
            hochgeladen = False
        if hochgeladen:
            async with self._sitzungen.begin() as sitzung:
                await setze_zustand(sitzung, SCHLUESSEL_GERAET, self._client.device_id)
        if self._wartend and antwort.to_device_events:
            await self._entschluessele_wartende()

    async def _entschluessele_wartende(self) -> None:
        for event_id, (raum_id, verschluesselt) in list(self._wartend.items()):
            try:
                klar = self._client.decrypt_event(verschluesselt)
            except EncryptionError:
                continue
            except Exception:
                log.exception("Entschlüsseln von %s gescheitert; nicht erneut", event_id)
                del self._wartend[event_id]
                continue
            if isinstance(klar, MegolmEvent) or not hasattr(klar, "source"):
                continue
            del self._wartend[event_id]
            if isinstance(klar, VerworfenesEreignis):
                continue
            log.info("Ereignis %s in %s nachträglich entschlüsselt", event_id, raum_id)
            ereignis = Ereignis.aus_json(raum_id, klar.source)
            if ereignis is not None:
                await self._verarbeitung.verarbeite(ereignis)

    async def _unlesbar(self, raum_id: str, verschluesselt: MegolmEvent) -> None:
        """Ein Ereignis ohne Schlüssel: Schlüssel anfordern, Hinweis geben, später erneut."""
        log.warning(
            "Ereignis %s von %s in %s nicht entschlüsselbar (Sitzung %s)",
            verschluesselt.event_id,
            verschluesselt.sender,
            raum_id,
            verschluesselt.session_id,
        )
        if len(self._wartend) >= WARTEND_HOECHSTENS:
            del self._wartend[next(iter(self._wartend))]
        verschluesselt.room_id = raum_id
        self._wartend[verschluesselt.event_id] = (raum_id, verschluesselt)
        try:
            await self._client.request_room_key(verschluesselt)
        except LocalProtocolError:
            pass  # für diese Sitzung schon angefordert
        except Exception as fehler:
            log.warning("Schlüsselanforderung gescheitert: %s", fehler)
        ereignis = Ereignis.aus_json(raum_id, verschluesselt.source)
        if ereignis is not None:
            await self._verarbeitung.nicht_entschluesselbar(ereignis, verschluesselt.session_id)

    async def _stapel(self, antwort: SyncResponse, *, nachholen: bool) -> bool:
        """Behandelt einen Sync-Stapel; `False`, wenn mittendrin angehalten wurde."""
        for raum_id, einladung in antwort.rooms.invite.items():
            await self._raeume.einladung(raum_id, einladung.invite_state)
        for raum_id, raum in antwort.rooms.join.items():
            ereignisse: list[Event] = list(raum.timeline.events)
            beitritt = self._eigener_beitritt(ereignisse)
            if beitritt is not None:
                # Frisch beigetreten: was vorher im Raum geschah, ist Vorgeschichte.
                ereignisse = ereignisse[beitritt + 1 :]
            elif nachholen and raum.timeline.limited and raum.timeline.prev_batch:
                ereignisse = await self._nachgeholt(raum_id, raum.timeline.prev_batch) + ereignisse
            for roh in ereignisse:
                if self._halt.is_set():
                    return False
                if isinstance(roh, MegolmEvent):
                    await self._unlesbar(raum_id, roh)
                    continue
                if isinstance(roh, VerworfenesEreignis):
                    continue
                ereignis = Ereignis.aus_json(raum_id, roh.source)
                if ereignis is not None:
                    await self._verarbeitung.verarbeite(ereignis)
        return True

    def _eigener_beitritt(self, ereignisse: list[Event]) -> int | None:
        for stelle in range(len(ereignisse) - 1, -1, -1):
            ereignis = ereignisse[stelle].source
            inhalt = ereignis.get("content")
            if (
                ereignis.get("type") == "m.room.member"
                and ereignis.get("state_key") == self._client.user_id
                and isinstance(inhalt, dict)
                and inhalt.get("membership") == "join"
            ):
                return stelle
        return None

    async def _nachgeholt(self, raum_id: str, bis: str) -> list[Event]:
        """Der Teil des Verlaufs, den ein abgeschnittener Sync ausließ (älteste zuerst)."""
        gesammelt: list[Event] = []
        start: str | None = bis
        for _ in range(NACHHOLEN_HOECHSTENS):
            seite = await self._client.room_messages(
                raum_id, start=start, direction=MessageDirection.back, limit=100
            )
            if isinstance(seite, RoomMessagesError):
                log.warning("Verlauf von %s nicht nachholbar: %s", raum_id, seite.message)
                break
            bekannt = await self._bekannte([e.source for e in seite.chunk])
            for ereignis in seite.chunk:
                if ereignis.source.get("event_id") in bekannt or (
                    self._eigener_beitritt([ereignis]) == 0
                ):
                    return list(reversed(gesammelt))
                gesammelt.append(ereignis)
            if not seite.chunk or not seite.end or seite.end == start:
                break
            start = seite.end
        else:
            log.warning("Verlauf von %s nur teilweise nachgeholt", raum_id)
        return list(reversed(gesammelt))

    async def _bekannte(self, ereignisse: list[dict[str, Any]]) -> set[str]:
        ids = [e["event_id"] for e in ereignisse if isinstance(e.get("event_id"), str)]
        if not ids:
            return set()
        async with self._sitzungen() as sitzung:
            treffer = await sitzung.scalars(
                select(VerarbeitetesEreignis.event_id).where(
                    VerarbeitetesEreignis.event_id.in_(ids)
                )
            )
            return set(treffer)
