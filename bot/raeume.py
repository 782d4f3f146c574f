"""In welchen Räumen der Bot sitzt: in denen der Struktur und in Direkträumen ihrer Personen.

- **Einladungen** nimmt er an, wenn die einladende Person nach `matrix.einladungen_von`
  einladen darf und der Raum ein Raum der Struktur ist (Themenfeld oder Stabsstelle, als
  Raum-ID oder Alias konfiguriert) – oder ein Direktraum (`is_direct`), den eine Person der
  Struktur mit ihm öffnet. Jede andere Einladung lehnt er ab, mit Grund im Protokoll. Wer
  einlädt, macht einen Raum nicht zum Raum des Bots; das tut nur die Struktur.
- **Abgleich** beim Start und danach jede Minute: Räume der Struktur, in die er eingeladen ist
  (oder die offen sind), betritt er; Räume, die die Struktur nicht (mehr) nennt, und
  Direkträume von Personen, die nicht mehr zur Struktur gehören, verlässt er.
- Eine **Raum-ID** steht erst in der Datenbank (`raum.raum_id`), wenn der Bot dem Raum
  beigetreten ist, und nur so lange er darin ist: erst dann schickt der Planer Abfragen und
  Berichte dorthin.
- **Fremde Mitglieder**: Sitzen in einem Raum der Struktur Konten von Servern (oder Personen)
  außerhalb von `matrix.einladungen_von`, warnt das Protokoll; `klimabot check` zeigt den
  zuletzt gesehenen Stand (`fremde_mitglieder`).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from nio import (
    AsyncClient,
    JoinedMembersResponse,
    JoinedRoomsResponse,
    JoinError,
    RoomResolveAliasResponse,
    SyncResponse,
)
from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from befehle.berechtigung import gehoert_zur_struktur
from bot.config import MatrixEinstellungen
from modelle.basis import jetzt
from modelle.datenbank import Sitzungsfabrik
from modelle.direktraeume import (
    geltende_direktraeume,
    gib_direktraum_auf,
    person_im_direktraum,
    trage_direktraum_ein,
)
from modelle.tabellen import Raum, Themenfeld
from modelle.verzeichnis import VerzeichnisSpeicher
from modelle.zustand import lies_zustand, setze_zustand

log = logging.getLogger(__name__)

FREMDE_MITGLIEDER = "raeume.fremde_mitglieder"
# So oft gleicht der Bot ab, auch wenn nichts geschieht (Strukturänderung aus der Konsole,
# eine Einladung, die er verpasst hat).
ABGLEICH_ALLE_S = 60.0


class _Angenommen(enum.Enum):
    STRUKTURRAUM = "Raum der Struktur"
    DIREKTRAUM = "Direktraum einer Person der Struktur"


@dataclass(frozen=True, slots=True)
class Strukturraum:
    id: int
    adresse: str
    raum_id: str | None
    bezeichnung: str


async def strukturraeume(sitzung: AsyncSession) -> list[Strukturraum]:
    """Die Räume, die die Struktur nennt: der Stabsstelle und der aktiven Themenfelder."""
    zeilen = (
        await sitzung.execute(
            select(Raum, Themenfeld.name)
            .outerjoin(Themenfeld, Themenfeld.id == Raum.themenfeld_id)
            .where(Raum.ist_stabsstelle.is_(True) | Themenfeld.archiviert.is_(False))
            .order_by(Raum.id)
        )
    ).all()
    return [
        Strukturraum(
            raum.id,
            raum.adresse,
            raum.raum_id,
            f"Raum des Themenfelds {name}" if name else "Raum der Stabsstelle",
        )
        for raum, name in zeilen
    ]


async def fremde_mitglieder(
    sitzung: AsyncSession,
) -> tuple[dt.datetime, dict[str, list[str]]] | None:
    """Was der laufende Bot zuletzt an fremden Mitgliedern sah (für `klimabot check`)."""
    wert = await lies_zustand(sitzung, FREMDE_MITGLIEDER)
    if wert is None:
        return None
    daten = json.loads(wert)
    return dt.datetime.fromisoformat(daten["stand"]), dict(daten["raeume"])


class Raumverwaltung:
    def __init__(
        self,
        client: AsyncClient,
        einstellungen: MatrixEinstellungen,
        sitzungen: Sitzungsfabrik,
        *,
        uhr: Any = time.monotonic,
    ) -> None:
        self._client = client
        self._einstellungen = einstellungen
        self._sitzungen = sitzungen
        self._uhr = uhr
        self._beigetreten: set[str] = set()
        self._aliase: dict[str, str] = {}  # Alias → Raum-ID, so weit aufgelöst
        self._zuletzt: float | None = None
        self._zu_pruefen: set[str] = set()  # Räume, deren Mitglieder sich änderten
        self._fremde: dict[str, list[str]] = {}
        self._gemeldet: set[str] = set()  # „wartet auf Einladung“ nur einmal je Raum
        self._verzeichnis = VerzeichnisSpeicher()

    # --- vom Sync ------------------------------------------------------------------------

    async def nach_stapel(self, antwort: SyncResponse) -> None:
        """Nach jedem Sync: eigene Beitritte und Abgänge übernehmen, ab und zu abgleichen."""
        if self._zuletzt is None:
            await self.abgleichen()  # nach dem ersten Sync: alles vom Homeserver
            return
        eigene = self._client.user_id
        for raum_id in antwort.rooms.leave:
            if raum_id in self._beigetreten:
                self._beigetreten.discard(raum_id)
                await self._nicht_mehr_im_raum(raum_id)
        for raum_id, raum in antwort.rooms.join.items():
            neu = raum_id not in self._beigetreten
            self._beigetreten.add(raum_id)
            if neu:
                await self._im_raum(raum_id)
            if any(
                e.source.get("type") == "m.room.member" and e.source.get("state_key") != eigene
                for e in raum.timeline.events
            ):
                self._zu_pruefen.add(raum_id)
        if self._uhr() - self._zuletzt >= ABGLEICH_ALLE_S:
            await self.abgleichen()
        elif self._zu_pruefen:
            await self._pruefe_mitglieder(await self._erlaubte_strukturraeume())

    async def einladung(self, raum_id: str, zustand: Iterable[Any]) -> None:
        """Nimmt eine Einladung an oder lehnt sie ab (mit Grund im Protokoll)."""
        einladende = next(
            (
                e.sender
                for e in zustand
                if getattr(e, "state_key", None) == self._client.user_id
                and getattr(e, "membership", None) == "invite"
            ),
            None,
        )
        direkt = any(
            getattr(e, "state_key", None) == self._client.user_id
            and (getattr(e, "content", None) or {}).get("is_direct") is True
            for e in zustand
        )
        art = await self._art(raum_id, einladende, direkt=direkt)
        if not isinstance(art, _Angenommen):
            await self._client.room_leave(raum_id)
            log.info("Einladung von %s in %s abgelehnt: %s", einladende, raum_id, art)
            return
        ergebnis = await self._client.join(raum_id)
        if isinstance(ergebnis, JoinError):
            log.warning("Beitritt zu %s gescheitert: %s", raum_id, ergebnis.message)
            return
        log.info("Einladung von %s in %s angenommen (%s)", einladende, raum_id, art.value)
        self._beigetreten.add(raum_id)
        if art is _Angenommen.DIREKTRAUM and einladende is not None:
            async with self._sitzungen.begin() as sitzung:
                await trage_direktraum_ein(sitzung, einladende, raum_id)
        else:
            await self._im_raum(raum_id)

    async def _art(
        self, raum_id: str, einladende: str | None, *, direkt: bool
    ) -> _Angenommen | str:
        """Als was der Bot den Raum annimmt – oder der Grund, ihn abzulehnen."""
        if einladende is None:
            return "keine einladende Person erkennbar"
        if not self._einstellungen.darf_einladen(einladende):
            return "darf laut matrix.einladungen_von nicht einladen"
        async with self._sitzungen() as sitzung:
            if await self._strukturraum_mit(raum_id, await strukturraeume(sitzung)) is not None:
                return _Angenommen.STRUKTURRAUM
            if not direkt:
                return "kein Raum der Struktur"
            if not gehoert_zur_struktur(await self._verzeichnis.hole(sitzung), einladende):
                return "Direktraum einer Person, die nicht zur Struktur gehört"
            schon = await person_im_direktraum(sitzung, raum_id)
        if schon is not None and schon != einladende:
            return f"schon der Direktraum von {schon}"
        return _Angenommen.DIREKTRAUM

    # --- Abgleich ------------------------------------------------------------------------

    async def abgleichen(self) -> None:
        """Betritt die Räume der Struktur, soweit möglich, und verlässt alle anderen."""
        self._zuletzt = self._uhr()
        beigetreten = await self._client.joined_rooms()
        if not isinstance(beigetreten, JoinedRoomsResponse):
            log.warning("Räume des Bots nicht abfragbar: %s", beigetreten.message)
            return
        self._beigetreten = set(beigetreten.rooms)
        async with self._sitzungen() as sitzung:
            raeume = await strukturraeume(sitzung)
        ziele: dict[int, str | None] = {}
        # Nur wer jeden Raum der Struktur sicher kennt, darf andere verlassen: ein Alias, der
        # gerade nicht auflösbar ist, könnte genau einen der eigenen Räume meinen.
        vollstaendig = True
        for raum in raeume:
            ziele[raum.id], sicher = await self._ziel(raum.adresse)
            vollstaendig = vollstaendig and sicher
        for raum in raeume:
            ziel = ziele[raum.id]
            if ziel is not None and ziel not in self._beigetreten:
                ergebnis = await self._client.join(ziel)
                if isinstance(ergebnis, JoinError):
                    if raum.adresse not in self._gemeldet:
                        log.info(
                            "Noch nicht im %s (%s): wartet auf Einladung",
                            raum.bezeichnung,
                            ergebnis.message,
                        )
                        self._gemeldet.add(raum.adresse)
                    ziel = None
                else:
                    log.info("%s %s betreten", raum.bezeichnung, ziel)
                    self._beigetreten.add(ziel)
            await self._setze_raum_id(raum, ziel if ziel in self._beigetreten else None)
        erlaubt = {z for z in ziele.values() if z is not None}
        direkt, offen = await self._geltende_direktraeume()
        erlaubt_mit_direkt = erlaubt | direkt
        # Legt der Zusteller gerade einen Direktraum an (Absicht ohne Raum), könnte ein
        # unbekannter Raum genau dieser sein: dann diesmal nichts verlassen.
        if vollstaendig and not offen:
            for raum_id in sorted(self._beigetreten - erlaubt_mit_direkt):
                await self._verlasse(raum_id, "gehört nicht (mehr) zur Struktur")
        self._zu_pruefen |= erlaubt & self._beigetreten
        await self._pruefe_mitglieder(erlaubt & self._beigetreten)

    async def _geltende_direktraeume(self) -> tuple[set[str], bool]:
        """Die Direkträume, in denen der Bot bleibt, und ob gerade einer angelegt wird.

        Gehört die Person nicht mehr zur Struktur, wird ihr Direktraum aufgegeben (und beim
        Abgleich verlassen).
        """
        bleiben: set[str] = set()
        offen = False
        async with self._sitzungen.begin() as sitzung:
            verzeichnis = await self._verzeichnis.hole(sitzung)
            for eintrag in await geltende_direktraeume(sitzung):
                if eintrag.raum_id is None:
                    offen = True
                elif gehoert_zur_struktur(verzeichnis, eintrag.matrix_id):
                    bleiben.add(eintrag.raum_id)
                else:
                    await gib_direktraum_auf(sitzung, eintrag.id)
                    log.info(
                        "Direktraum %s mit %s aufgegeben: gehört nicht mehr zur Struktur",
                        eintrag.raum_id,
                        eintrag.matrix_id,
                    )
        return bleiben, offen

    async def _ziel(self, adresse: str) -> tuple[str | None, bool]:
        """Die Raum-ID zu einer Adresse (ein Alias wird aufgelöst) und ob das sicher ist."""
        if adresse.startswith("!"):
            return adresse, True
        aufgeloest = await self._client.room_resolve_alias(adresse)
        if isinstance(aufgeloest, RoomResolveAliasResponse):
            self._aliase[adresse] = str(aufgeloest.room_id)
            return str(aufgeloest.room_id), True
        if getattr(aufgeloest, "status_code", None) == "M_NOT_FOUND":
            if adresse not in self._gemeldet:
                log.warning("Raumalias %s gibt es nicht (noch nicht angelegt?)", adresse)
                self._gemeldet.add(adresse)
            self._aliase.pop(adresse, None)
            return None, True
        log.warning("Raumalias %s gerade nicht auflösbar: %s", adresse, aufgeloest.message)
        return self._aliase.get(adresse), False

    async def _strukturraum_mit(
        self, raum_id: str, raeume: list[Strukturraum], *, aufloesen: bool = True
    ) -> Strukturraum | None:
        """Der Raum der Struktur mit dieser ID; Aliase werden nur bei `aufloesen` erfragt."""
        for raum in raeume:
            if raum_id in (raum.adresse, raum.raum_id, self._aliase.get(raum.adresse)):
                return raum
        if not aufloesen:
            return None
        for raum in raeume:
            if not raum.adresse.startswith("!") and (await self._ziel(raum.adresse))[0] == raum_id:
                return raum
        return None

    async def _erlaubte_strukturraeume(self) -> set[str]:
        async with self._sitzungen() as sitzung:
            return {r.raum_id for r in await strukturraeume(sitzung) if r.raum_id is not None}

    async def _im_raum(self, raum_id: str) -> None:
        async with self._sitzungen() as sitzung:
            raeume = await strukturraeume(sitzung)
        raum = await self._strukturraum_mit(raum_id, raeume, aufloesen=False)
        if raum is not None and raum.raum_id != raum_id:
            await self._setze_raum_id(raum, raum_id)
            self._zu_pruefen.add(raum_id)

    async def _nicht_mehr_im_raum(self, raum_id: str) -> None:
        async with self._sitzungen.begin() as sitzung:
            ergebnis = cast(
                CursorResult[Any],
                await sitzung.execute(
                    update(Raum).where(Raum.raum_id == raum_id).values(raum_id=None)
                ),
            )
        if ergebnis.rowcount:
            log.warning("Nicht mehr im Raum %s der Struktur (verlassen oder entfernt)", raum_id)

    async def _setze_raum_id(self, raum: Strukturraum, raum_id: str | None) -> None:
        if raum.raum_id == raum_id:
            return
        async with self._sitzungen.begin() as sitzung:
            await sitzung.execute(update(Raum).where(Raum.id == raum.id).values(raum_id=raum_id))
        if raum_id is not None:
            self._gemeldet.discard(raum.adresse)

    async def _verlasse(self, raum_id: str, grund: str) -> None:
        antwort = await self._client.room_leave(raum_id)
        self._beigetreten.discard(raum_id)
        log.info("Raum %s verlassen: %s (%s)", raum_id, grund, type(antwort).__name__)

    async def _pruefe_mitglieder(self, raeume: set[str]) -> None:
        pruefen = self._zu_pruefen & raeume
        self._zu_pruefen -= pruefen
        geaendert = False
        for raum_id in sorted(pruefen):
            antwort = await self._client.joined_members(raum_id)
            if not isinstance(antwort, JoinedMembersResponse):
                continue
            fremd = sorted(
                m.user_id
                for m in antwort.members
                if m.user_id != self._client.user_id
                and not self._einstellungen.darf_einladen(m.user_id)
            )
            if fremd != self._fremde.get(raum_id, []):
                geaendert = True
                if fremd:
                    log.warning(
                        "Im Raum %s der Struktur sitzen Konten außerhalb von "
                        "matrix.einladungen_von: %s",
                        raum_id,
                        ", ".join(fremd),
                    )
            if fremd:
                self._fremde[raum_id] = fremd
            else:
                self._fremde.pop(raum_id, None)
        if geaendert:
            await self._merke_fremde(self._fremde)

    async def _merke_fremde(self, fremde: Mapping[str, list[str]]) -> None:
        wert = json.dumps({"stand": jetzt().isoformat(), "raeume": dict(fremde)}, sort_keys=True)
        async with self._sitzungen.begin() as sitzung:
            await setze_zustand(sitzung, FREMDE_MITGLIEDER, wert)
