"""Ein eingehendes Matrix-Ereignis wird genau einmal behandelt.

Hier gibt es kein nio: Ereignisse kommen als rohes JSON (wie der Homeserver sie schickt),
`bot.ereignis` sagt, was sie vom Bot wollen, und sie werden in einer Transaktion behandelt –
Wirkung (z. B. die Statusmeldung), Antwort im Ausgangskorb und der Vermerk „behandelt“
werden gemeinsam gespeichert oder gar nicht. Das ist die eine Fehlergrenze: Ein erwartetes
Problem (`Benutzerfehler`) wird zur Antwort mit seiner Nachricht; was ein Handler sonst
wirft, wird protokolliert und mit „Interner Fehler (Ref. …)“ beantwortet; die
Sync-Schleife läuft weiter.

Wenn die Datenbank ausfällt
---------------------------
Ist die Datenbank nicht erreichbar (PostgreSQL weg oder seine Verbindungen beendet, SQLite
von einem anderen Schreiber gesperrt), scheitert ein Versuch als Ganzes: seine Transaktion
wird vollständig zurückgerollt, halb Geschriebenes gibt es nicht. Dann gilt:

- Die Verarbeitung wiederholt das Ereignis selbst, mit wachsenden Pausen, bis die Datenbank
  wieder antwortet oder die *Geduld* (`geduld`, Vorgabe 30 s) verbraucht ist. Gelingt es
  rechtzeitig, merkt die Person nur die Verzögerung.
- Ist die Geduld verbraucht, wird das Ereignis *aufgegeben*: Die Person bekommt einmal
  „… Bitte später erneut versuchen.“ als Antwort – direkt über den Transport, denn der
  Ausgangskorb liegt in der Datenbank – mit einer aus der Event-ID abgeleiteten
  Transaktions-ID, so dass wiederholtes Senden keine zweite Nachricht erzeugt. Ein
  aufgegebenes Ereignis wird nie mehr gespeichert, auch wenn die Sync-Schleife es noch
  einmal bringt: sonst stünde die Meldung doppelt da, sobald die Person sie neu sendet.
  Bis die Datenbank zurück ist, steht das nur im Speicher; die erste danach gelingende
  Transaktion vermerkt es als behandelt.
- Die Geduld gilt je Ausfall, nicht je Ereignis: Ein Stapel von N Ereignissen kostet sie
  einmal, nicht N-mal – wer hinter dem ersten Ereignis wartete, hat schon so lange
  gewartet. Dauert der Ausfall schon länger als die Geduld, wird jedes Ereignis, das vor
  dem letzten gescheiterten Versuch gesendet wurde, sofort aufgegeben; nur später
  gesendete bekommen noch einen eigenen Versuch. Das zählt, weil eine gesperrte
  SQLite-Datei jeden Versuch bis zu ihrer Wartezeit (15 s) aufhält. Die Sendezeit ist die
  des Homeservers: Geht seine Uhr nach, gilt das Urteil ein wenig zu lange.
- Einen Hinweis bekommt, wem der Bot sonst geantwortet hätte – dieselbe Entscheidung wie für
  die Behandlung (`bot.ereignis.hinweisziel`): Befehle, Antworten im Meldungsformat,
  Ampel-Reaktionen und Bearbeitungen, deren neuer Text ein Befehl ist oder wie eine Meldung
  aussieht. Auch Befehle, die nur lesen (`!status`): ohne den Vermerk „behandelt“ käme ihre
  Antwort womöglich doppelt. Unterhaltung wird still übergangen, ebenso eine Löschung
  (worauf sollte ein Hinweis antworten?); das Protokoll nennt jedes aufgegebene Ereignis.
- Bricht die Verbindung *beim Commit* ab, ist offen, ob gespeichert wurde. Dann kein
  Hinweis (er könnte falsch sein), sondern `DatenbankNichtErreichbar`: Die Sync-Schleife
  wiederholt den Stapel, bis die Datenbank antwortet und der Vermerk Klarheit schafft.
- Das Gedächtnis endet mit dem Prozess. Startet der Bot neu, bevor die Datenbank zurück
  war, kann ein aufgegebenes Ereignis doch noch gespeichert und normal beantwortet werden
  (die gespeicherte Sync-Position liegt vor ihm); hat die Person es inzwischen neu
  gesendet, steht die Meldung zweimal da – die neuere gilt, falsch wird nichts.
  Umgekehrt kann ein vor einem Absturz gespeichertes Ereignis, das nach dem Neustart in
  einen Ausfall fällt, den Hinweis bekommen, obwohl es gespeichert ist.
- Solange die Verarbeitung wartet, wartet die Sync-Schleife mit; ein Anhalten dauert im
  Ausfall also bis zu einer Geduld länger.

Sofort antworten
----------------
Ein Befehl, der nur liest (`Befehl.nur_lesend`: `!status`, `!verlauf`, `!hilfe` …), und ein
unbekannter Befehl werden ohne Transaktion vorab beantwortet: lesen, Antwort senden, und erst
danach „behandelt“ und den Eintrag im Ausgangskorb (als gesendet) schreiben, gesammelt für
viele Antworten in einer Transaktion (`vermerke_gesendete`). Das spart vor dem Senden den
Commit und nach dem Senden das Vermerken je Nachricht. Genau einmal bleibt es so:

- Sofort geantwortet wird nur auf *frische* Ereignisse – solche, von denen die Sync-Schleife
  weiß, dass sie nicht behandelt sind (neu im laufenden Sync, oder nach dem Start und beim
  Nachholen ohne Vermerk). Alles andere nimmt den gewöhnlichen Weg mit dem Vermerk vorab.
- Die Antwort trägt die aus der Event-ID abgeleitete Transaktions-ID (`antwort_txn_id`),
  auch auf dem gewöhnlichen Weg. Stirbt der Bot zwischen Senden und Vermerk, bringt der Sync
  nach dem Neustart den Befehl noch einmal; dieselbe Transaktion desselben Geräts legt der
  Homeserver nicht noch einmal an (Synapse: 24 Stunden lang), er gibt die erste zurück.
- Übernimmt eine andere Instanz (anderes Gerät, die Transaktions-ID hilft ihr nicht), sieht
  sie die Antwort im selben Sync, mit der Kennung `de.klimabot.ausgang` im Inhalt
  (`schon_im_raum`), und vermerkt sie, statt sie zu senden.
- Wartet im Raum noch etwas auf Zustellung, stellt sich die Antwort hinten an (gewöhnlicher
  Weg); ebenso, wenn die Datenbank gerade ausfällt, der Befehl scheitert, die Antwort mehr als
  eine Nachricht ist oder das Senden scheitert (dann mit derselben Transaktions-ID).
- Bestätigt (✅) wird eine Meldung weiter erst, wenn sie gespeichert ist: Schreibende Befehle
  nehmen nie diesen Weg.

Vor der Behandlung
------------------
- Der Zeitpunkt eines Ereignisses ist höchstens der, zu dem der Bot es empfing (der Beginn
  seiner Verarbeitung, auf der Uhr `uhr`): Den Zeitstempel setzt der Server des Absenders, und
  ein Server mit falscher Uhr soll keine Meldung auf 2199 datieren (sie bliebe sonst für immer
  die neueste). So gedeckelt gilt er überall, auch für das Urteil im Datenbankausfall oben.
- Die `Drossel` (`bot.drossel`) zählt jedes Ereignis der Person zu seinem (gedeckelten)
  Zeitpunkt, im Speicher. Wer flutet, wird übergangen: ohne Transaktion, ohne Vermerk
  „behandelt“, ohne Antwort – einmal kommt stattdessen „Bitte etwas langsamer …“. Nachgeholtes
  aus einer Ausfallzeit zählt zu seiner Zeit, ist also keine Flut, nur weil es auf einmal
  ankommt. Nach einem Neustart heißt das: Ein übergangenes
  Ereignis ist nicht als behandelt vermerkt. Liegt es hinter der gespeicherten Sync-Position
  (die höchstens alle paar Sekunden gespeichert wird, bei einem sauberen Anhalten sofort),
  bleibt es für immer unbeantwortet; stürzte der Bot vorher ab, bringt der Sync es noch einmal
  und eine frische Drossel (ohne Gedächtnis) entscheidet neu – die Flut kann dann zum Teil
  beantwortet werden, bis der Eimer wieder leer ist. Falsch gespeichert wird dabei nichts.
- Absagen und „nicht entschlüsselbar“ gehen je Person höchstens einmal je Minute hinaus;
  die Behandlung selbst (und ihr Vermerk) findet trotzdem statt.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Insert, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from befehle import schnellmeldung
from befehle.ausfuehrung import beantworte
from befehle.berechtigung import handelt_im_raum
from befehle.grundlagen import (
    Anfrage,
    Antwort,
    Benutzerfehler,
    Betrieb,
    Registratur,
    Verweigert,
)
from befehle.nachricht import Erwaehnung, Nachricht
from bot.ausgang import (
    NACHRICHT,
    REAKTION,
    abgeleitete_txn_id,
    antwort_txn_id,
    bot_nachricht,
    eingereiht,
    einreihen,
    reihe_antwort_ein,
    verwerfe_eingereihtes,
)
from bot.drossel import Anlass, Drossel, Urteil
from bot.ereignis import (
    Ampelreaktion,
    Anliegen,
    Bearbeitung,
    Befehlsaufruf,
    Ereignis,
    Loeschung,
    Meldungsantwort,
    anliegen,
    hinweisziel,
)
from bot.inhalt import Inhalt, nachrichteninhalt, reaktionsinhalt
from bot.metriken import UNBEKANNTER_BEFEHL, Ergebnis, Metriken
from bot.transport import (
    BegrenzterFehler,
    EndgueltigerFehler,
    Ratenlimit,
    Transport,
    VoruebergehenderFehler,
)
from modelle.basis import UTCZeit, jetzt
from modelle.datenbank import (
    Sitzungsfabrik,
    einfuegen_ohne_konflikt,
    kurzer_grund,
    nicht_erreichbar,
    standleser,
)
from modelle.direktraeume import person_im_direktraum
from modelle.tabellen import Ausgang, VerarbeitetesEreignis
from modelle.verzeichnis import Verzeichnis, VerzeichnisSpeicher

log = logging.getLogger(__name__)


HINWEIS = (
    "Das konnte ich gerade nicht verarbeiten – meine Datenbank ist nicht erreichbar, "
    "gespeichert ist nichts. Bitte später erneut versuchen."
)
# Sekunden bis zum zweiten Versuch; danach je doppelt so lang, höchstens 2 s (bei kurzer
# Geduld höchstens ein Viertel von ihr).
ERSTE_PAUSE = 0.1
GEDAECHTNIS = 10_000  # so viele zuletzt erledigte Event-IDs kennt die Verarbeitung ohne Datenbank
# Spätestens so viele sofort gesendete Antworten, dann werden ihre Vermerke geschrieben.
HOECHSTENS_UNVERMERKT = 100


class DatenbankNichtErreichbar(Exception):
    """Die Datenbank antwortet nicht: das Ereignis später erneut behandeln, nicht überspringen."""


class _NichtGespeichert(Exception):
    """Der Versuch scheiterte an der Datenbank, bevor er gespeichert war (sicher zurückgerollt)."""


class _NichtHier(Exception):
    """Der Raum ist weder einer der Struktur noch der Direktraum dieser Person: nichts tun."""


class _Ungewiss(Exception):
    """Der Commit scheiterte an der Datenbank: ob gespeichert wurde, ist offen."""


class _Gedaechtnis:
    """Die zuletzt gemerkten Schlüssel (Event- oder Transaktions-IDs), je mit einem Wert,
    höchstens `groesse` viele; die ältesten fallen heraus."""

    def __init__(self, groesse: int) -> None:
        self._werte: dict[str, str | None] = {}
        self._groesse = groesse

    def __contains__(self, schluessel: object) -> bool:
        return schluessel in self._werte

    def get(self, schluessel: str) -> str | None:
        return self._werte.get(schluessel)

    def merke(self, schluessel: str, wert: str | None = None) -> None:
        self._werte[schluessel] = wert
        if len(self._werte) > self._groesse:
            del self._werte[next(iter(self._werte))]


@dataclass(frozen=True, slots=True)
class _Gesendet:
    """Eine sofort gesendete Antwort, deren Vermerke („behandelt“, Ausgangskorb) noch fehlen."""

    ereignis_id: str
    raum_id: str
    inhalt: Inhalt
    projekte: tuple[str, ...]
    txn_id: str
    event_id: str
    gesendet_am: dt.datetime


@dataclass
class _Ausfall:
    """Seit wann die Datenbank ohne Unterbrechung nicht erreichbar ist (monotone Uhr)."""

    seit: float | None = None
    zuletzt: float = 0.0
    # Wann der letzte gescheiterte Versuch begann, auf der Uhr, die auch Ereignisse tragen.
    zuletzt_bestaetigt: dt.datetime | None = None

    def gescheitert(self, beginn: float, ende: float, geduld: float, uhrzeit: dt.datetime) -> None:
        """`uhrzeit`: jetzt, auf der Uhr, an der die Zeitpunkte der Ereignisse gedeckelt werden."""
        # Ohne gescheiterten Versuch seit einer Geduld ist über die Zwischenzeit nichts
        # bekannt: dann beginnt ein neuer Ausfall (mit voller Geduld).
        if self.seit is None or beginn - self.zuletzt > geduld:
            self.seit = beginn
        self.zuletzt = ende
        self.zuletzt_bestaetigt = uhrzeit - dt.timedelta(seconds=ende - beginn)

    def dauer(self, jetzt: float) -> float:
        return 0.0 if self.seit is None else jetzt - self.seit

    def vorbei(self) -> None:
        self.seit = None


@dataclass
class _Befund:
    """Welcher Befehl in einem Versuch lief und wie er ausging – gezählt erst nach dem Commit,
    damit ein wiederholter Versuch (Datenbankausfall) nicht doppelt zählt."""

    befehl: str | None = None
    ergebnis: Ergebnis = Ergebnis.OK


async def _befehl(anfrage: Anfrage, aufruf: Befehlsaufruf, befund: _Befund) -> Antwort:
    if befund.befehl is None:  # der sofortige Weg hat schon nachgesehen
        befund.befehl = _befehlsname(anfrage.registratur, aufruf)
    try:
        antwort = await beantworte(anfrage, aufruf.name, aufruf.argumente)
    except Verweigert:
        befund.ergebnis = Ergebnis.VERWEIGERT
        raise
    except Benutzerfehler:
        unbekannt = befund.befehl == UNBEKANNTER_BEFEHL
        befund.ergebnis = Ergebnis.UNBEKANNT if unbekannt else Ergebnis.BENUTZERFEHLER
        raise
    except Exception as fehler:
        if not nicht_erreichbar(fehler):
            befund.ergebnis = Ergebnis.INTERNER_FEHLER
        raise
    befund.ergebnis = Ergebnis.OK
    return antwort


def _befehlsname(registratur: Registratur, aufruf: Befehlsaufruf) -> str:
    """Der Name des Befehls für die Metriken; `UNBEKANNTER_BEFEHL`, wenn es keinen gibt."""
    try:
        return registratur.finde(aufruf.name).name
    except Benutzerfehler:
        return UNBEKANNTER_BEFEHL


class Verarbeitung:
    def __init__(
        self,
        *,
        sitzungen: Sitzungsfabrik,
        registratur: Registratur,
        bot_id: str,
        praefix: str,
        zeitzone: ZoneInfo,
        betrieb: Betrieb,
        nach_commit: Callable[[Sequence[Ausgang]], None],
        transport: Transport | None,
        geduld: float,
        uhr: Callable[[], dt.datetime],
        drossel: Drossel,
        metriken: Metriken | None = None,
        raum_belegt: Callable[[str], bool] = lambda _raum_id: False,
    ) -> None:
        """Gebaut wird sie wie im Betrieb mit `bot.app.baue_verarbeitung`.

        `nach_commit` bekommt die eben festgeschriebenen Einträge des Ausgangskorbs
        (`Zusteller.uebergib`); `transport` sendet den Hinweis bei einem Datenbankausfall
        (ohne ihn: nur Protokoll);
        `geduld` sind die Sekunden, die ein Ausfall dauern darf, bevor Ereignisse aufgegeben
        werden (siehe Moduldokumentation); `uhr` sagt, wann ein Ereignis empfangen wurde
        (Deckel seines Zeitpunkts); `metriken` zählt Befehle und ihre Antwortzeit;
        `raum_belegt` sagt, ob im Raum schon etwas auf Zustellung wartet (dann keine sofortige
        Antwort, sie überholte es: `Zusteller.raum_belegt`)."""
        self._sitzungen = sitzungen
        self._registratur = registratur
        self._bot_id = bot_id
        self._praefix = praefix
        self._zeitzone = zeitzone
        self._betrieb = betrieb
        self._nach_commit = nach_commit
        self._transport = transport
        self._geduld = geduld
        self._verzeichnis = VerzeichnisSpeicher(standleser(sitzungen))
        self._hoechste_pause = min(2.0, geduld / 4)
        self._ausfall = _Ausfall()
        # Erledigt heißt gespeichert oder aufgegeben – so entscheidet ein erneut gebrachtes
        # Ereignis sich auch ohne Datenbank richtig.
        self._erledigt = _Gedaechtnis(GEDAECHTNIS)
        self._unvermerkt: set[str] = set()  # aufgegeben, aber noch nicht als behandelt vermerkt
        self._ungewiss: set[str] = set()  # Commit abgebrochen: nie aufgeben, erst nachsehen
        self._uhr = uhr
        self._drossel = drossel
        # Was die Drossel schon durchließ: bringt die Sync-Schleife einen Stapel nach einem
        # Datenbankfehler noch einmal, zählt dasselbe Ereignis nicht doppelt.
        self._durchgelassen = _Gedaechtnis(GEDAECHTNIS)
        self._metriken = Metriken() if metriken is None else metriken
        self._raum_belegt = raum_belegt
        # „Behandelt“ vermerken: einmal gebaut (für die Datenbank der ersten Sitzung).
        self._vermerk: Insert | None = None
        self._ausgang_eintrag: Insert | None = None
        # Sofort gesendet, Vermerke noch nicht geschrieben (`vermerke_gesendete`).
        self._unvermerkt_gesendet: list[_Gesendet] = []
        # Was der Bot laut Sync schon gesendet hat (Kennung im Ereignis → Event-ID): so sendet
        # er nach einer Übernahme nicht noch einmal, was die vorige Instanz schon sandte.
        self._im_raum = _Gedaechtnis(GEDAECHTNIS)

    def schon_im_raum(self, kennungen: Mapping[str, str]) -> None:
        """Eigene Ereignisse aus dem Sync: Transaktions-ID (aus dem Inhalt) → Event-ID."""
        for txn_id, event_id in kennungen.items():
            self._im_raum.merke(txn_id, event_id)

    async def verarbeite(self, ereignis: Ereignis, *, frisch: bool = False) -> None:
        """Behandelt ein Ereignis genau einmal; wartet, wenn die Datenbank ausfällt.

        `frisch`: Das Ereignis ist sicher noch nicht behandelt (die Sync-Schleife weiß es: neu
        im laufenden Sync oder beim Nachholen nicht als behandelt vermerkt). Nur dann darf ein
        Lesebefehl sofort beantwortet werden (`_sofort`); sonst erst speichern, dann senden.

        Wirft nur `DatenbankNichtErreichbar`, und nur, wenn offen ist, ob ein Versuch
        gespeichert wurde (dann das Ereignis später erneut bringen).
        """
        if ereignis.absender == self._bot_id or ereignis.event_id in self._erledigt:
            return
        empfangen = time.monotonic()
        ereignis = self._gedeckelt(ereignis)
        gemeint = anliegen(ereignis, self._praefix)
        if not await self._gedrosselt_weiter(ereignis, gemeint):
            return
        if (
            frisch
            and isinstance(gemeint, Befehlsaufruf)
            and await self._sofort(ereignis, gemeint, empfangen)
        ):
            if len(self._unvermerkt_gesendet) >= HOECHSTENS_UNVERMERKT:
                await self.vermerke_gesendete()
            return
        if gemeint is not None:
            # Eine Antwort, Reaktion oder Bearbeitung kann eine eben gesendete Antwort meinen
            # (`bot_nachricht` liest den Ausgangskorb): erst deren Vermerke.
            await self.vermerke_gesendete()
        pause = ERSTE_PAUSE
        erster_fehlschlag = True
        while True:
            if self._abgewartet(ereignis) and ereignis.event_id not in self._ungewiss:
                await self._aufgeben(ereignis, gemeint)
                return
            beginn = time.monotonic()
            befund = _Befund()
            try:
                eintraege = await self._versuch(ereignis, gemeint, befund)
            except _NichtGespeichert as fehlschlag:
                self._metriken.datenbank_nicht_erreichbar("verarbeitung")
                ursache = fehlschlag.__cause__
                jetzt = time.monotonic()
                self._ausfall.gescheitert(beginn, jetzt, self._geduld, self._uhr())
                if ereignis.event_id in self._ungewiss:
                    raise DatenbankNichtErreichbar(str(ursache)) from ursache
                dauer = self._ausfall.dauer(jetzt)
                if dauer >= self._geduld:
                    await self._aufgeben(ereignis, gemeint)
                    return
                if erster_fehlschlag:
                    log.warning(
                        "Datenbank nicht erreichbar bei %s (%s); neue Versuche bis %.0f s Ausfall",
                        ereignis.event_id,
                        kurzer_grund(ursache),
                        self._geduld,
                    )
                    erster_fehlschlag = False
                await asyncio.sleep(min(pause, self._geduld - dauer))
                pause = min(pause * 2, self._hoechste_pause)
                continue
            except _Ungewiss as abbruch:
                self._metriken.datenbank_nicht_erreichbar("verarbeitung")
                ursache = abbruch.__cause__
                self._ausfall.gescheitert(beginn, time.monotonic(), self._geduld, self._uhr())
                self._ungewiss.add(ereignis.event_id)
                log.warning(
                    "Commit von %s abgebrochen (%s); ob gespeichert ist, klärt der nächste Versuch",
                    ereignis.event_id,
                    kurzer_grund(ursache),
                )
                raise DatenbankNichtErreichbar(str(ursache)) from ursache
            self._ausfall.vorbei()
            self._ungewiss.discard(ereignis.event_id)
            self._erledigt.merke(ereignis.event_id)
            if befund.befehl is not None:
                self._metriken.befehl(befund.befehl, befund.ergebnis, time.monotonic() - empfangen)
            self._nach_commit(eintraege)
            return

    async def _sofort(self, ereignis: Ereignis, aufruf: Befehlsaufruf, empfangen: float) -> bool:
        """Beantwortet einen Lesebefehl sofort: lesen, senden, Vermerke danach (siehe
        „Sofort antworten“ oben). `False`: nichts gesendet, der gewöhnliche Weg übernimmt."""
        if (
            self._transport is None
            or self._ausfall.seit is not None
            or self._raum_belegt(ereignis.raum_id)
        ):
            return False
        try:
            befehl = self._registratur.finde(aufruf.name)
        except Benutzerfehler:
            # Unbekannt oder mehrdeutig: die Antwort sagt es, geschrieben wird nichts.
            befund = _Befund(befehl=UNBEKANNTER_BEFEHL)
        else:
            if not befehl.nur_lesend:
                return False
            befund = _Befund(befehl=befehl.name)
        try:
            async with self._sitzungen() as sitzung:
                anfrage = await self._anfrage(sitzung, ereignis, nur_lesend=True)
                try:
                    antwort = await _befehl(anfrage, aufruf, befund)
                except Benutzerfehler as fehler:
                    antwort = fehler.antwort()
                if sitzung.new or sitzung.dirty or sitzung.deleted:
                    raise RuntimeError(f"{befund.befehl} gilt als nur lesend, schreibt aber")
        except Exception:
            # Kein Raum des Bots, Datenbank weg, Fehler im Befehl: Das alles kann der gewöhnliche
            # Weg (Vermerk, Warten, „Interner Fehler“ mit Referenz im Protokoll).
            return False
        if antwort.nachricht is None or antwort.reaktion or antwort.thread or antwort.absage:
            return False  # mehr als eine Nachricht oder eine Absage: der gewöhnliche Weg
        txn_id = antwort_txn_id(ereignis.event_id)
        inhalt = nachrichteninhalt(
            antwort.nachricht,
            projekte=antwort.projekte,
            antwort_auf=aufruf.bezug,
            thread_wurzel=ereignis.thread_wurzel,
        )
        event_id = self._im_raum.get(txn_id)
        if event_id is None:
            try:
                event_id = await self._transport.sende(ereignis.raum_id, NACHRICHT, inhalt, txn_id)
            except Exception as fehler:
                # Vielleicht kam sie doch an: der Ausgangskorb sendet mit derselben
                # Transaktions-ID, der Homeserver legt sie dann nicht noch einmal an.
                log.info(
                    "Antwort auf %s nicht sofort gesendet (%s); sie geht über den Ausgangskorb",
                    ereignis.event_id,
                    fehler,
                )
                return False
        else:
            log.info("Antwort auf %s stand schon im Raum (%s)", ereignis.event_id, event_id)
        self._unvermerkt_gesendet.append(
            _Gesendet(
                ereignis.event_id,
                ereignis.raum_id,
                inhalt,
                antwort.projekte,
                txn_id,
                event_id,
                jetzt(),
            )
        )
        self._erledigt.merke(ereignis.event_id)
        assert befund.befehl is not None  # oben gesetzt
        self._metriken.befehl(befund.befehl, befund.ergebnis, time.monotonic() - empfangen)
        return True

    async def vermerke_gesendete(
        self, *, dazu: Callable[[AsyncSession], Awaitable[object]] | None = None
    ) -> None:
        """Schreibt die Vermerke sofort gesendeter Antworten: „behandelt“ und den Eintrag im
        Ausgangskorb (als gesendet), alle in einer Transaktion – mit `dazu` in derselben
        Transaktion noch etwas anderes (die Sync-Schleife: ihre Position), auch wenn nichts
        zu vermerken ist. Die Position steht dann nie ohne die Vermerke vor ihr in der
        Datenbank, und es bleibt ein Commit statt zweien.

        Gesammelt für viele Antworten: Die Sync-Schleife ruft es, bevor sie ihre Position
        speichert (höchstens alle paar Sekunden) und beim Anhalten; die Verarbeitung selbst vor
        jedem Ereignis, das eine Antwort meinen könnte, und nach `HOECHSTENS_UNVERMERKT`. Bis
        dahin kennt nur der Speicher die Antworten; stirbt der Bot, liest er ab der
        gespeicherten Position neu, und die Antworten stehen im Sync (`schon_im_raum`) bzw. ihre
        Transaktionen beim Homeserver. Scheitert es an der Datenbank, wirft es
        `DatenbankNichtErreichbar` und behält die Vermerke für den nächsten Versuch.
        """
        offen = list(self._unvermerkt_gesendet)
        if not offen and dazu is None:
            return
        try:
            async with self._sitzungen.begin() as sitzung:
                if dazu is not None:
                    await dazu(sitzung)
                if not offen:
                    return
                vermerk = self._vermerk_anweisung(sitzung)
                eintrag = self._ausgang_gesendet(sitzung)
                # Über die Verbindung, eine Anweisung je Tabelle für alle Zeilen (executemany):
                # einmal übersetzt statt je Stapel neu.
                verbindung = await sitzung.connection()
                await verbindung.execute(
                    vermerk,
                    [{"vermerkt": g.ereignis_id, "vermerkt_am": g.gesendet_am} for g in offen],
                )
                # Ohne Konflikt: Brach ein Commit ab, der doch gelang, steht der Eintrag schon.
                await verbindung.execute(
                    eintrag,
                    [
                        {
                            "a_txn_id": g.txn_id,
                            "a_raum_id": g.raum_id,
                            "a_inhalt": g.inhalt,
                            "a_projekte": list(g.projekte),
                            "a_zeit": g.gesendet_am,
                            "a_event_id": g.event_id,
                        }
                        for g in offen
                    ],
                )
        except Exception as fehler:
            if nicht_erreichbar(fehler):
                # Nur die Position (nichts zu vermerken): ein Fehler der Sync-Schleife.
                self._metriken.datenbank_nicht_erreichbar("verarbeitung" if offen else "sync")
                raise DatenbankNichtErreichbar(str(fehler)) from fehler
            raise
        del self._unvermerkt_gesendet[: len(offen)]

    def _ausgang_gesendet(self, sitzung: AsyncSession) -> Insert:
        """Der Eintrag einer sofort gesendeten Antwort im Ausgangskorb (als gesendet), für
        `vermerke_gesendete`: einmal gebaut."""
        if self._ausgang_eintrag is None:
            spalten = Ausgang.__table__.c
            self._ausgang_eintrag = einfuegen_ohne_konflikt(
                sitzung,
                Ausgang,
                {
                    "txn_id": bindparam("a_txn_id"),
                    "raum_id": bindparam("a_raum_id"),
                    "ereignistyp": NACHRICHT,
                    "inhalt": bindparam("a_inhalt", type_=spalten.inhalt.type),
                    "projekte": bindparam("a_projekte", type_=spalten.projekte.type),
                    "erstellt": bindparam("a_zeit", type_=spalten.erstellt.type),
                    "versuche": 1,
                    "event_id": bindparam("a_event_id"),
                    "gesendet_am": bindparam("a_zeit", type_=spalten.gesendet_am.type),
                },
                "txn_id",
            )
        return self._ausgang_eintrag

    def _vermerk_anweisung(self, sitzung: AsyncSession) -> Insert:
        """„Behandelt“ vermerken (Parameter `vermerkt`, `vermerkt_am`): einmal gebaut, für die
        Datenbank der ersten Sitzung."""
        if self._vermerk is None:
            self._vermerk = einfuegen_ohne_konflikt(
                sitzung,
                VerarbeitetesEreignis,
                {
                    "event_id": bindparam("vermerkt"),
                    "zeitpunkt": bindparam("vermerkt_am", type_=UTCZeit()),
                },
                "event_id",
            )
        return self._vermerk

    def _gedeckelt(self, ereignis: Ereignis) -> Ereignis:
        """Das Ereignis mit einem Zeitpunkt, der höchstens jetzt ist."""
        empfangen = self._uhr()
        if ereignis.zeitpunkt <= empfangen:
            return ereignis
        if ereignis.zeitpunkt - empfangen > dt.timedelta(minutes=1):
            log.info(
                "Zeitstempel von %s (%s) liegt in der Zukunft; es gilt der Empfang (%s)",
                ereignis.event_id,
                ereignis.zeitpunkt.isoformat(),
                empfangen.isoformat(),
            )
        return dataclasses.replace(ereignis, zeitpunkt=empfangen)

    async def _gedrosselt_weiter(self, ereignis: Ereignis, gemeint: Anliegen | None) -> bool:
        """Fragt die Drossel; `False`: übergangen oder mit „Bitte etwas langsamer“ beantwortet."""
        if ereignis.event_id in self._durchgelassen:
            return True
        ziel = hinweisziel(gemeint)
        urteil = self._drossel.ereignis(
            ereignis.absender, ereignis.zeitpunkt.timestamp(), meint_den_bot=ziel is not None
        )
        if urteil is Urteil.BEHANDELN:
            self._durchgelassen.merke(ereignis.event_id)
            return True
        log.info(
            "%s %s von %s in %s übergangen: zu viele Nachrichten%s",
            ereignis.typ,
            ereignis.event_id,
            ereignis.absender,
            ereignis.raum_id,
            " (bitte langsamer)" if urteil is Urteil.BREMSEN else "",
        )
        if urteil is Urteil.BREMSEN and ziel is not None:
            await self._bremse(ereignis, ziel)
        return False

    async def _bremse(self, ereignis: Ereignis, ziel: str) -> None:
        """Antwortet einmal „Bitte etwas langsamer …“; das Ereignis gilt damit als behandelt."""
        minuten = max(1, round(self._drossel.pause / 60))
        dauer = "einer Minute" if minuten == 1 else f"{minuten} Minuten"
        nachricht = Nachricht().absatz(
            "Bitte etwas langsamer – Sie haben mir in kurzer Zeit sehr viele Nachrichten "
            f"geschickt. Ich antworte Ihnen in {dauer} wieder; was Sie bis dahin schicken, "
            "bleibt unbeantwortet. Bitte senden Sie es danach noch einmal."
        )
        try:
            async with self._sitzungen.begin() as sitzung:
                if await self._schon_behandelt(sitzung, ereignis.event_id):
                    return
                self._antworte(sitzung, ereignis, Antwort(nachricht), bezug=ziel)
        except Exception as fehler:
            if not nicht_erreichbar(fehler):
                raise
            log.warning("„Bitte langsamer“ zu %s nicht gespeichert (%s)", ereignis.event_id, fehler)
            return
        self._erledigt.merke(ereignis.event_id)
        self._nach_commit(eingereiht(sitzung))

    def _abgewartet(self, ereignis: Ereignis) -> bool:
        """Gesendet vor dem letzten gescheiterten Versuch eines Ausfalls, der die Geduld
        schon überschritten hat: Dann hat das Ereignis den Ausfall schon abgewartet."""
        bestaetigt = self._ausfall.zuletzt_bestaetigt
        return (
            self._ausfall.dauer(time.monotonic()) >= self._geduld
            and bestaetigt is not None
            and ereignis.zeitpunkt <= bestaetigt
        )

    async def _versuch(
        self, ereignis: Ereignis, gemeint: Anliegen | None, befund: _Befund
    ) -> list[Ausgang]:
        """Ein Versuch in einer Transaktion: alles wird gespeichert oder nichts.

        Gibt die eingereihten Einträge des Ausgangskorbs zurück (festgeschrieben, mit ID).

        Scheitert er an der Datenbank, wirft er `_NichtGespeichert` (zurückgerollt) oder
        `_Ungewiss` (beim Commit); alles andere, was ein Handler wirft, wird zur Antwort
        „Interner Fehler“.
        """
        async with self._sitzungen() as sitzung:
            try:
                try:
                    if not await self._schon_behandelt(sitzung, ereignis.event_id):
                        await self._behandle(sitzung, ereignis, gemeint, befund)
                    await sitzung.flush()
                except Exception as fehler:
                    if nicht_erreichbar(fehler):
                        raise
                    referenz = secrets.token_hex(2).upper()
                    log.exception(
                        "Fehler bei %s %s in %s (Ref. %s)",
                        ereignis.typ,
                        ereignis.event_id,
                        ereignis.raum_id,
                        referenz,
                    )
                    await sitzung.rollback()
                    verwerfe_eingereihtes(sitzung)
                    self._interner_fehler(sitzung, ereignis, referenz)
                vermerkt = await self._vermerke_aufgegebene(sitzung)
            except Exception as fehler:
                if nicht_erreichbar(fehler):
                    raise _NichtGespeichert from fehler
                raise
            try:
                await sitzung.commit()
            except Exception as fehler:
                if nicht_erreichbar(fehler):
                    raise _Ungewiss from fehler
                raise
            eintraege = eingereiht(sitzung)
        self._unvermerkt -= vermerkt
        return eintraege

    async def _vermerke_aufgegebene(self, sitzung: AsyncSession) -> set[str]:
        """Vermerkt die im Ausfall aufgegebenen Ereignisse als behandelt (nach einem Neustart
        kämen sie sonst doch noch an die Reihe)."""
        offen = set(self._unvermerkt)
        if offen:
            vorhanden = set(
                await sitzung.scalars(
                    select(VerarbeitetesEreignis.event_id).where(
                        VerarbeitetesEreignis.event_id.in_(offen)
                    )
                )
            )
            sitzung.add_all(VerarbeitetesEreignis(event_id=e) for e in sorted(offen - vorhanden))
            await sitzung.flush()
        return offen

    async def _aufgeben(self, ereignis: Ereignis, gemeint: Anliegen | None) -> None:
        self._erledigt.merke(ereignis.event_id)
        self._unvermerkt.add(ereignis.event_id)
        ziel = hinweisziel(gemeint)
        log.warning(
            "Datenbank seit %.0f s nicht erreichbar: %s %s von %s in %s aufgegeben (%s)",
            self._ausfall.dauer(time.monotonic()),
            ereignis.typ,
            ereignis.event_id,
            ereignis.absender,
            ereignis.raum_id,
            "mit Hinweis" if ziel is not None else "ohne Antwort",
        )
        if ziel is not None:
            await self._sende_hinweis(ereignis, ziel)

    async def _sende_hinweis(self, ereignis: Ereignis, ziel: str) -> None:
        """Sendet den Hinweis direkt; dieselbe Transaktions-ID macht jeden Versuch zu einem."""
        if self._transport is None:
            log.error("Kein Transport: Hinweis zu %s nicht gesendet", ereignis.event_id)
            return
        nachricht = Nachricht().absatz(
            [Erwaehnung(ereignis.absender, ereignis.absender), ": ", HINWEIS]
        )
        inhalt = nachrichteninhalt(
            nachricht, antwort_auf=ziel, thread_wurzel=ereignis.thread_wurzel
        )
        txn_id = abgeleitete_txn_id("hinweis", ereignis.event_id, 32)
        for versuch in range(3):
            try:
                await self._transport.sende(ereignis.raum_id, NACHRICHT, inhalt, txn_id)
                return
            except Ratenlimit as limit:
                await asyncio.sleep(min(limit.warte_ms / 1000, 10.0))
            except (VoruebergehenderFehler, BegrenzterFehler) as fehler:
                log.warning("Hinweis zu %s nicht gesendet (%s)", ereignis.event_id, fehler)
                await asyncio.sleep(0.5 * 2**versuch)
            except EndgueltigerFehler as fehler:
                log.error("Hinweis zu %s nicht zustellbar: %s", ereignis.event_id, fehler)
                return
        log.error("Hinweis zu %s nach drei Versuchen aufgegeben", ereignis.event_id)

    async def nicht_entschluesselbar(self, ereignis: Ereignis, schluesselsitzung: str) -> None:
        """Sagt der Person, dass ihre Nachricht nicht lesbar ist – einmal je Absender und Sitzung.

        Das Ereignis selbst gilt nicht als behandelt: kommt der Schlüssel nach, wird es
        entschlüsselt und ganz normal beantwortet.
        """
        if ereignis.absender == self._bot_id:
            return
        ereignis = self._gedeckelt(ereignis)
        if self._schon_gesagt(ereignis, Anlass.UNLESBAR):
            return
        kennung = hashlib.sha256(f"{ereignis.absender}\n{schluesselsitzung}".encode()).hexdigest()
        nachricht = Nachricht().absatz(
            "Ich kann diese Nachricht nicht entschlüsseln – mir fehlt ihr Schlüssel. Ich habe "
            "ihn angefordert und antworte, sobald er da ist. Kommt keine Antwort, senden Sie "
            "die Nachricht bitte noch einmal."
        )
        try:
            async with self._sitzungen.begin() as sitzung:
                verzeichnis = await self._verzeichnis.hole(sitzung)
                if not await self._hier_erlaubt(sitzung, verzeichnis, ereignis):
                    return
                if await self._schon_behandelt(sitzung, f"unlesbar:{kennung[:40]}"):
                    return
                self._antworte(sitzung, ereignis, Antwort(nachricht), bezug=ereignis.event_id)
        except Exception as fehler:
            if nicht_erreichbar(fehler):
                raise DatenbankNichtErreichbar(str(fehler)) from fehler
            raise
        self._nach_commit(eingereiht(sitzung))

    def _schon_gesagt(self, ereignis: Ereignis, anlass: Anlass) -> bool:
        """Bekam die Person in der letzten Minute schon eine Absage bzw. einen Hinweis? Dann
        bleibt dieses Ereignis ohne (das Protokoll nennt es)."""
        if self._drossel.einmal(
            ereignis.absender, anlass, ereignis.event_id, ereignis.zeitpunkt.timestamp()
        ):
            return False
        log.info(
            "Keine %s zu %s an %s: schon eine in der letzten Minute",
            "Absage" if anlass is Anlass.ABSAGE else "Hinweis „nicht entschlüsselbar“",
            ereignis.event_id,
            ereignis.absender,
        )
        return True

    async def _schon_behandelt(self, sitzung: AsyncSession, event_id: str) -> bool:
        """Vermerkt das Ereignis als behandelt – oder stellt fest, dass es das schon ist.

        Eine Anweisung statt Nachsehen und Einfügen: sie liegt auf dem Weg jeder Antwort.
        """
        # Über die Verbindung (Core): mit Parametern läse die Sitzung es als ORM-Masseneinfügen,
        # dessen Ergebnis keine Zeilenzahl hat.
        verbindung = await sitzung.connection()
        ergebnis = await verbindung.execute(
            self._vermerk_anweisung(sitzung), {"vermerkt": event_id, "vermerkt_am": jetzt()}
        )
        return ergebnis.rowcount == 0

    def _interner_fehler(self, sitzung: AsyncSession, ereignis: Ereignis, referenz: str) -> None:
        nachricht = Nachricht().absatz(
            f"Interner Fehler (Ref. {referenz}). Bitte versuchen Sie es später noch einmal; "
            "die Stabsstelle kann mit der Referenz nachsehen, was passiert ist."
        )
        sitzung.add(VerarbeitetesEreignis(event_id=ereignis.event_id))
        if ereignis.typ in ("m.room.message", "m.reaction"):
            self._antworte(
                sitzung, ereignis, Antwort(nachricht), bezug=ereignis.event_id, eigene_txn=True
            )

    async def _hier_erlaubt(
        self, sitzung: AsyncSession, verzeichnis: Verzeichnis, ereignis: Ereignis
    ) -> bool:
        """Handelt der Bot in diesem Raum (für diese Person)? Die Regel: `handelt_im_raum`."""
        if verzeichnis.ist_strukturraum(ereignis.raum_id):
            return True  # der häufige Fall, ohne weitere Abfrage
        direkt = await person_im_direktraum(sitzung, ereignis.raum_id)
        return handelt_im_raum(verzeichnis, ereignis.raum_id, ereignis.absender, direkt)

    async def _anfrage(
        self, sitzung: AsyncSession, ereignis: Ereignis, *, nur_lesend: bool = False
    ) -> Anfrage:
        """Die Anfrage an `befehle/` – der Weg zu jeder Wirkung, darum wird hier geprüft, ob der
        Bot in diesem Raum überhaupt handelt (sonst `_NichtHier`). `nur_lesend`: mit dem
        Lagebild im Speicher (wer schreibt, sähe darin nicht, was er schrieb)."""
        verzeichnis = await self._verzeichnis.hole(sitzung)
        if not await self._hier_erlaubt(sitzung, verzeichnis, ereignis):
            raise _NichtHier
        return Anfrage(
            absender=ereignis.absender,
            raum_id=ereignis.raum_id,
            jetzt=ereignis.zeitpunkt,
            zeitzone=self._zeitzone,
            praefix=self._praefix,
            sitzung=sitzung,
            verzeichnis=verzeichnis,
            registratur=self._registratur,
            event_id=ereignis.event_id,
            betrieb=self._betrieb,
            lagebild=self._verzeichnis if nur_lesend else None,
        )

    async def _behandle(
        self, sitzung: AsyncSession, ereignis: Ereignis, gemeint: Anliegen | None, befund: _Befund
    ) -> None:
        if gemeint is None:
            return
        try:
            await self._behandle_hier(sitzung, ereignis, gemeint, befund)
        except _NichtHier:
            log.info(
                "%s von %s in %s übergangen: kein Raum des Bots",
                ereignis.typ,
                ereignis.absender,
                ereignis.raum_id,
            )

    async def _behandle_hier(
        self, sitzung: AsyncSession, ereignis: Ereignis, gemeint: Anliegen, befund: _Befund
    ) -> None:
        match gemeint:
            case Befehlsaufruf():
                anfrage = await self._anfrage(sitzung, ereignis)
                await self._antworte_auf(
                    sitzung, ereignis, _befehl(anfrage, gemeint, befund), gemeint.bezug
                )
            case Meldungsantwort(auf=auf, text=text):
                nachricht = await bot_nachricht(sitzung, auf)
                if nachricht is None or not nachricht.projekte:
                    return
                anfrage = await self._anfrage(sitzung, ereignis)
                arbeit = schnellmeldung.melde_per_antwort(anfrage, nachricht.projekte, text)
                await self._antworte_auf(sitzung, ereignis, arbeit, gemeint.bezug)
            case Ampelreaktion(ampel=ampel, bezug=ziel):
                nachricht = await bot_nachricht(sitzung, ziel)
                if nachricht is None or not nachricht.projekte:
                    return
                anfrage = await self._anfrage(sitzung, ereignis)
                arbeit = schnellmeldung.melde_per_reaktion(anfrage, nachricht.projekte, ampel)
                await self._antworte_auf(
                    sitzung, ereignis, arbeit, ziel, thread_wurzel=nachricht.thread_wurzel
                )
            case Bearbeitung(text=text, bezug=ziel, befehl=befehl):
                anfrage = await self._anfrage(sitzung, ereignis)
                arbeit = schnellmeldung.bearbeite(anfrage, ziel, text)
                if not await self._antworte_auf(sitzung, ereignis, arbeit, ziel) and befehl:
                    # Keine Meldung dazu, aber ein Befehl: vertippt, per Bearbeiten korrigiert.
                    await self._antworte_auf(
                        sitzung, ereignis, _befehl(anfrage, befehl, befund), befehl.bezug
                    )
            case Loeschung(geloescht=geloescht):
                anfrage = await self._anfrage(sitzung, ereignis)
                arbeit = schnellmeldung.zurueckziehen(anfrage, geloescht)
                await self._antworte_auf(sitzung, ereignis, arbeit, None)

    async def _antworte_auf(
        self,
        sitzung: AsyncSession,
        ereignis: Ereignis,
        arbeit: Awaitable[Antwort | None],
        bezug: str | None,
        *,
        thread_wurzel: str | None = None,
    ) -> bool:
        """Wartet die Arbeit eines Handlers ab und reiht ihre Antwort ein – die eine Stelle, an
        der ein erwartetes Problem (`Benutzerfehler`) zur Antwort wird. `False`: Der Handler
        hatte nichts zu sagen (`None`)."""
        try:
            antwort = await arbeit
        except Benutzerfehler as fehler:
            antwort = fehler.antwort()
        if antwort is None:
            return False
        self._antworte(
            sitzung, ereignis, antwort, bezug=bezug, thread_wurzel=thread_wurzel, eigene_txn=True
        )
        return True

    def _antworte(
        self,
        sitzung: AsyncSession,
        ereignis: Ereignis,
        antwort: Antwort,
        *,
        bezug: str | None,
        thread_wurzel: str | None = None,
        eigene_txn: bool = False,
    ) -> None:
        """Reiht Reaktion und Nachricht ein; `bezug` ist die Nachricht, auf die sie antworten.

        `eigene_txn`: Die Hauptnachricht ist die Antwort auf das Ereignis und bekommt dessen
        Transaktions-ID (`antwort_txn_id`), dieselbe wie eine sofortige Antwort – stand sie
        laut Sync schon im Raum, wird sie als gesendet eingetragen statt noch einmal gesendet.
        """
        if antwort.absage and self._schon_gesagt(ereignis, Anlass.ABSAGE):
            return
        if antwort.reaktion is not None and bezug is not None:
            einreihen(sitzung, ereignis.raum_id, REAKTION, reaktionsinhalt(bezug, antwort.reaktion))
        txn_id = antwort_txn_id(ereignis.event_id) if eigene_txn else None
        if txn_id is not None and any(e.txn_id == txn_id for e in eingereiht(sitzung)):
            txn_id = None  # die Antwort hat sie schon (eine zweite Nachricht darauf)
        kopf = reihe_antwort_ein(
            sitzung,
            ereignis.raum_id,
            antwort,
            antwort_auf=bezug,
            thread_wurzel=thread_wurzel or ereignis.thread_wurzel,
            txn_id=txn_id,
        )
        schon = None if txn_id is None else self._im_raum.get(txn_id)
        if kopf is not None and schon is not None:
            log.info("Antwort auf %s stand schon im Raum (%s)", ereignis.event_id, schon)
            kopf.event_id, kopf.gesendet_am, kopf.versuche = schon, jetzt(), 1
