"""Was der Bot geplant sendet, und was davon jetzt fällig ist.

Die Tabelle `Versand` hält fest, welche Periode einer Abfrage, eines Wochenberichts oder
einer Erinnerung schon bedient wurde, gesendet oder bewusst übersprungen. Diese
Aufzeichnung, nicht das Gedächtnis des Schedulers, entscheidet, was fällig ist: der
Scheduler in `bot/` weckt nur, die Funktionen hier sagen, was zu tun ist. Jede bekommt
die Uhr (`jetzt`) als Argument und braucht wenige Abfragen, gleich wie viele Felder oder
Projekte es gibt.

Genau einmal senden
-------------------
1. `faellige_abfragen()` (oder `faelliger_wochenbericht()`, `faellige_erinnerungen()`)
   sagt, welche Perioden offen sind.
2. Je Fälligkeit, in **einer** Transaktion: `reserviere()` trägt die Periode ein; nur wenn
   das `True` ergab, reiht der Aufrufer ihre Nachrichten in den Ausgangskorb ein
   (`bot.ausgang.einreihen`). Dann Commit. Eine übersprungene Periode wird genauso
   reserviert (Status `uebersprungen`), nur ohne Nachricht.
3. Der Zusteller sendet den Ausgangskorb; jede Nachricht hat ihre feste Transaktions-ID,
   der Homeserver legt sie auch bei Wiederholung nur einmal an.

Damit gilt: Absturz vor dem Commit – weder Eintrag noch Nachricht, nach dem Neustart ist
die Periode wieder fällig. Absturz nach dem Commit (auch direkt nach dem Senden) – der
Eintrag steht, die Periode ist nie wieder fällig, und die Nachricht steht im Ausgangskorb
und wird höchstens mit derselben Transaktions-ID wiederholt. Zwei Starts kurz
hintereinander oder zwei Prozesse: beide mögen dieselbe Periode für fällig halten, aber
nur einer kann sie reservieren. `reserviere()` sieht zuerst nach, ob die Periode schon
eingetragen ist; die letzte Verteidigung ist die Eindeutigkeit von `schluessel` in der
Datenbank, über `INSERT … ON CONFLICT DO NOTHING`: der zweite wartet auf den Ausgang der
ersten Transaktion und fügt dann nichts ein, ohne Fehler, sodass die Transaktion des
Aufrufers brauchbar bleibt (ein fehlgeschlagenes INSERT bräche sie in PostgreSQL ab).

Regeln der Fälligkeit
---------------------
- **Abfrage**: für jedes aktive Themenfeld mit mindestens einem aktiven Projekt, nach dem
  Zeitplan des Felds oder der Vorgabe. Fällt der Termin auf ein Wochenende oder einen
  Feiertag in NRW, ist sie am nächsten Arbeitstag zur selben Uhrzeit fällig
  (`modelle.termine`). Fällig ist die neueste Periode, deren Fälligkeit erreicht ist und
  die noch nicht eingetragen ist: innerhalb der Nachholfrist wird sie gesendet (mehr als
  `VERSPAETET_AB` zu spät: `verspaetet`, die Nachricht sagt es), danach übersprungen.
  Ältere Perioden, die seit dem letzten Eintrag des Felds ganz ausfielen (lange
  Ausfallzeit), werden ebenfalls als übersprungen gemeldet, höchstens
  `HOECHSTENS_VERSAEUMT` je Feld, damit der Wochenbericht sie nennen kann.
- Versäumt sein kann nur, was fällig war: Perioden vor dem ersten Eintrag eines Felds
  (neue Installation, neues Feld) und Perioden, in denen das Feld laut
  Änderungsprotokoll noch keine aktiven Projekte hatte, zählen nicht; ohne jeden Eintrag
  wird nur eine Abfrage in der Nachholfrist gesendet. Eine Periode „danach“ meint den
  regulären Termin: nach einer Änderung des Zeitplans beginnt die Zählung beim neuesten
  Eintrag, nicht bei den Terminen des alten Plans.
- **Wochenbericht**: dieselben Regeln, aber nie verschoben: er kommt auch an Feiertagen.
- **Erinnerung**: siehe `faellige_erinnerungen()`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from modelle.datenbank import einfuegen_ohne_konflikt
from modelle.stand import STRUKTURFOLGE, ist_ueberfaellig, neueste_meldung, still_seit
from modelle.tabellen import (
    Aenderung,
    Person,
    Raum,
    Rollenzuweisung,
    Statusmeldung,
    Strategieprojekt,
    Themenfeld,
    Versand,
    Versandart,
    Versandstatus,
)
from modelle.termine import Periode, ist_arbeitstag, letzter_termin, perioden_rueckwaerts
from modelle.verzeichnis import PersonEintrag
from modelle.werte import Ampel, Rolle
from modelle.zeitplan import Zeitplan, ZeitplanFehler

__all__ = [
    "HOECHSTENS_VERSAEUMT",
    "VERSPAETET_AB",
    "Erinnerung",
    "Faelligkeit",
    "Ueberfaelligkeit",
    "Versaeumnis",
    "Versandart",
    "Versandstatus",
    "faellige_abfragen",
    "faellige_erinnerungen",
    "faelliger_wochenbericht",
    "letzter_wochenbericht",
    "letzter_wochenbericht_abfrage",
    "reserviere",
    "schluessel",
    "ueberfaellige_projekte",
    "vermerke_event",
    "versaeumte_seit",
]

log = logging.getLogger(__name__)

# Wer bis zu fünf Minuten nach dem Termin sendet, ist pünktlich (Scheduler, Start, Last).
VERSPAETET_AB = dt.timedelta(minutes=5)
# Mehr versäumte Perioden je Feld nennt niemand einzeln; der Wochenbericht bleibt lesbar.
HOECHSTENS_VERSAEUMT = 8
# Nach der Direktnachricht an die Pat*in wird nur noch wöchentlich erinnert.
WIEDERHOLUNG = dt.timedelta(days=7)
# Schlüsselteil für Perioden ohne Themenfeld oder Projekt (Wochenbericht).
_OHNE = "-"


@dataclass(frozen=True, slots=True)
class Faelligkeit:
    """Eine Periode, die jetzt zu senden oder zu überspringen ist.

    `festgestellt` ist die Uhr, mit der entschieden wurde; `reserviere()` speichert sie als
    `erstellt`. Für den Wochenbericht ist das zugleich das Ende seines Zeitraums.
    """

    art: Versandart
    schluessel: str
    termin: dt.datetime
    faellig_am: dt.datetime
    festgestellt: dt.datetime
    themenfeld_id: int | None = None
    themenfeld_slug: str | None = None
    projekt_id: int | None = None
    # Innerhalb der Nachholfrist, aber mehr als `VERSPAETET_AB` nach `faellig_am`.
    verspaetet: bool = False
    # Nachholfrist vorbei oder ganz ausgefallen: nicht senden, nur eintragen.
    ueberspringen: bool = False

    @property
    def status(self) -> Versandstatus:
        if self.ueberspringen:
            return Versandstatus.UEBERSPRUNGEN
        return Versandstatus.VERSPAETET if self.verspaetet else Versandstatus.GESENDET


@dataclass(frozen=True, slots=True)
class Ueberfaelligkeit:
    """Ein laufendes Projekt, das länger still ist, als sein Themenfeld erlaubt."""

    projekt_id: int
    projekt_slug: str
    projekt_titel: str
    themenfeld_id: int
    themenfeld_slug: str
    themenfeld_name: str
    raum_id: str | None
    frist_tage: int
    # Beide leer, wenn das Projekt nie gemeldet hat.
    letzte_meldung: dt.datetime | None
    letzte_ampel: Ampel | None
    # Ab wann gezählt wird: letzte Meldung oder (Wieder-)Aufnahme; leer, wenn keins bekannt.
    bezug: dt.datetime | None

    @property
    def ueberfaellig_seit(self) -> dt.datetime | None:
        return None if self.bezug is None else self.bezug + dt.timedelta(days=self.frist_tage)


@dataclass(frozen=True, slots=True)
class Erinnerung:
    """Eine fällige Erinnerung an ein überfälliges Projekt und an wen sie sich richtet.

    `stufe` zählt die Erinnerungen dieser Überfälligkeit, diese eingeschlossen: 1 und 2 im
    Raum des Themenfelds, ab 3 als Direktnachricht an die Pat*in (`direktnachricht`), oder
    im Raum, wenn das Feld keine Pat*in hat.
    """

    faelligkeit: Faelligkeit
    stufe: int
    projekt: Ueberfaelligkeit
    patin: PersonEintrag | None
    koordination: tuple[PersonEintrag, ...]

    @property
    def direktnachricht(self) -> bool:
        return self.faelligkeit.art is Versandart.ERINNERUNG_DM

    @property
    def zustaendige(self) -> tuple[PersonEintrag, ...]:
        """Pat*in zuerst, dann die Koordinator*innen: wer erwähnt wird."""
        return (self.patin, *self.koordination) if self.patin else self.koordination


@dataclass(frozen=True, slots=True)
class Versaeumnis:
    """Eine übersprungene Abfrage oder ein übersprungener Wochenbericht."""

    art: Versandart
    themenfeld_id: int | None
    themenfeld_slug: str | None
    themenfeld_name: str | None
    termin: dt.datetime
    faellig_am: dt.datetime
    # Wann das Überspringen entschieden wurde.
    erstellt: dt.datetime


def schluessel(art: Versandart, bezug: str | None, periode: str) -> str:
    """Der Schlüssel einer Periode, etwa `abfrage:energie:2026-11-23T08:00Z`."""
    return f"{art.value}:{bezug or _OHNE}:{periode}"


def _zeitschluessel(termin: dt.datetime) -> str:
    return termin.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")


# --- Reservieren ---------------------------------------------------------------------------


async def reserviere(
    sitzung: AsyncSession, faelligkeit: Faelligkeit, status: Versandstatus | None = None
) -> bool:
    """Trägt die Periode ein; False, wenn sie schon eingetragen ist (dann nichts senden).

    Läuft in der Transaktion des Aufrufers und lässt sie in jedem Fall benutzbar. Ohne
    `status` gilt der der Fälligkeit (gesendet, verspätet oder übersprungen).
    """
    vorhanden = await sitzung.scalar(
        select(Versand.id).where(Versand.schluessel == faelligkeit.schluessel)
    )
    if vorhanden is not None:
        return False
    werte = {
        "schluessel": faelligkeit.schluessel,
        "art": faelligkeit.art.value,
        "themenfeld_id": faelligkeit.themenfeld_id,
        "projekt_id": faelligkeit.projekt_id,
        "termin": faelligkeit.termin,
        "faellig_am": faelligkeit.faellig_am,
        "status": (status or faelligkeit.status).value,
        "erstellt": faelligkeit.festgestellt,
    }
    anweisung = einfuegen_ohne_konflikt(sitzung, Versand, werte, "schluessel")
    neu = await sitzung.scalar(anweisung.returning(Versand.id))
    return neu is not None


async def vermerke_event(
    sitzung: AsyncSession, schluessel: str, event_id: str, raum_id: str | None = None
) -> bool:
    """Hält fest, unter welchem Matrix-Ereignis die Periode gesendet wurde; False: unbekannt."""
    werte: dict[str, str] = {"event_id": event_id}
    if raum_id is not None:
        werte["raum_id"] = raum_id
    geaendert = await sitzung.scalar(
        update(Versand)
        .where(Versand.schluessel == schluessel)
        .values(werte)
        .returning(Versand.id)
        .execution_options(synchronize_session=False)
    )
    return geaendert is not None


# --- Perioden entscheiden ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entscheidung:
    periode: Periode
    ueberspringen: bool
    verspaetet: bool


def _entscheide(
    zeitplan: Zeitplan,
    *,
    jetzt: dt.datetime,
    zeitzone: ZoneInfo,
    verschieben: bool,
    zuletzt: dt.datetime | None,
    aktiv_seit: dt.datetime | None,
    nachholfrist: dt.timedelta,
) -> list[_Entscheidung]:
    """Die offenen Perioden eines Zeitplans, neueste zuerst (Regeln im Modulkopf).

    `zuletzt`: der neueste eingetragene Termin; `aktiv_seit`: ab wann es etwas zu senden gab.
    """
    entscheidungen: list[_Entscheidung] = []
    for periode in perioden_rueckwaerts(zeitplan, jetzt, zeitzone, verschieben=verschieben):
        if zuletzt is not None and periode.termin <= zuletzt:
            break
        if aktiv_seit is not None and periode.faellig_am < aktiv_seit:
            break
        if periode.faellig_am > jetzt:
            # Auf einen Arbeitstag verschoben, der noch kommt; die Periode davor kann offen sein.
            continue
        if entscheidungen:
            # Älter als eine offene Periode: ganz ausgefallen. Eine neue Abfrage ersetzt sie.
            entscheidungen.append(_Entscheidung(periode, ueberspringen=True, verspaetet=False))
        else:
            verspaetung = jetzt - periode.faellig_am
            if verspaetung <= nachholfrist:
                entscheidungen.append(
                    _Entscheidung(
                        periode, ueberspringen=False, verspaetet=verspaetung > VERSPAETET_AB
                    )
                )
            elif zuletzt is not None:
                entscheidungen.append(_Entscheidung(periode, ueberspringen=True, verspaetet=False))
        if zuletzt is None:
            # Ohne Eintrag gibt es nichts, wogegen ältere Perioden versäumt sein könnten.
            break
        if sum(e.ueberspringen for e in entscheidungen) >= HOECHSTENS_VERSAEUMT:
            break
    return entscheidungen


def _spaetester(*zeiten: dt.datetime | None) -> dt.datetime | None:
    bekannt = [z for z in zeiten if z is not None]
    return max(bekannt) if bekannt else None


def _aktivierungen(
    objekt_art: str, *, mit_umzug: bool = False, mit_zeitplan: bool = False
) -> Subquery:
    """Je Objekt (Slug) der späteste Zeitpunkt, seit dem es laut Protokoll aktiv ist.

    Angelegt oder wieder aktiviert; `mit_umzug`: auch in ein anderes Themenfeld verschoben;
    `mit_zeitplan`: auch der Zeitplan geändert – sonst wäre ein Termin des neuen Plans, der
    vor der Änderung lag, plötzlich „versäumt“ und käme als verspätete Abfrage hinterher.
    """
    bedingung: ColumnElement[bool] = or_(
        Aenderung.feld == "angelegt", and_(Aenderung.feld == "archiviert", Aenderung.neu == "nein")
    )
    if mit_umzug:
        bedingung = or_(bedingung, Aenderung.feld == "themenfeld")
    if mit_zeitplan:
        bedingung = or_(bedingung, Aenderung.feld == "abfrage")
    return (
        select(Aenderung.objekt, func.max(Aenderung.zeitpunkt).label("seit"))
        .where(Aenderung.objekt_art == objekt_art, bedingung)
        .group_by(Aenderung.objekt)
        .subquery()
    )


def _zeitplan(text: str | None, standard: Zeitplan, slug: str) -> Zeitplan:
    if not text:
        return standard
    try:
        return Zeitplan.aus_text(text)
    except ZeitplanFehler as fehler:
        # Die Strukturprüfung lässt das nicht durch; kommt es doch vor, lieber zur Vorgabe
        # fragen als gar nicht.
        log.warning("Zeitplan des Themenfelds %s ungültig (%s); nehme %s", slug, fehler, standard)
        return standard


async def _zuletzt_eingetragen(
    sitzung: AsyncSession, art: Versandart
) -> dict[int | None, dt.datetime]:
    zeilen = await sitzung.execute(
        select(Versand.themenfeld_id, func.max(Versand.termin))
        .where(Versand.art == art)
        .group_by(Versand.themenfeld_id)
    )
    return {feld_id: termin for feld_id, termin in zeilen}


async def faellige_abfragen(
    sitzung: AsyncSession,
    *,
    jetzt: dt.datetime,
    zeitzone: ZoneInfo,
    standard: Zeitplan,
    nachholfrist: dt.timedelta,
) -> list[Faelligkeit]:
    """Die Abfragen, die jetzt zu senden oder als übersprungen einzutragen sind.

    Je Themenfeld höchstens eine zu senden (die neueste), dazu ältere ausgefallene zum
    Überspringen. Sortiert nach Feld, neueste Periode zuerst. Zwei Abfragen.
    """
    feld_aktiv = _aktivierungen("themenfeld", mit_zeitplan=True)
    projekt_im_feld = _aktivierungen("projekt", mit_umzug=True)
    zeilen = await sitzung.execute(
        select(
            Themenfeld.id,
            Themenfeld.slug,
            Themenfeld.abfrage,
            feld_aktiv.c.seit.label("feld_seit"),
            projekt_im_feld.c.seit.label("projekt_seit"),
        )
        .join(Strategieprojekt, Strategieprojekt.themenfeld_id == Themenfeld.id)
        .outerjoin(feld_aktiv, feld_aktiv.c.objekt == Themenfeld.slug)
        .outerjoin(projekt_im_feld, projekt_im_feld.c.objekt == Strategieprojekt.slug)
        .where(~Themenfeld.archiviert, ~Strategieprojekt.archiviert)
        .order_by(Themenfeld.reihenfolge, Themenfeld.id)
    )
    felder: dict[int, tuple[str, str | None, dt.datetime | None]] = {}
    projekte_seit: dict[int, list[dt.datetime | None]] = defaultdict(list)
    for feld_id, slug, abfrage, feld_seit, projekt_seit in zeilen:
        felder[feld_id] = (slug, abfrage, feld_seit)
        projekte_seit[feld_id].append(projekt_seit)
    if not felder:
        return []
    zuletzt = await _zuletzt_eingetragen(sitzung, Versandart.ABFRAGE)

    faellig: list[Faelligkeit] = []
    for feld_id, (slug, abfrage, feld_seit) in felder.items():
        seit_liste = projekte_seit[feld_id]
        # Ein Projekt ohne Protokolleintrag war womöglich schon immer da: dann keine Grenze.
        projekte_ab = None if None in seit_liste else min(z for z in seit_liste if z is not None)
        for entscheidung in _entscheide(
            _zeitplan(abfrage, standard, slug),
            jetzt=jetzt,
            zeitzone=zeitzone,
            verschieben=True,
            zuletzt=zuletzt.get(feld_id),
            aktiv_seit=_spaetester(feld_seit, projekte_ab),
            nachholfrist=nachholfrist,
        ):
            periode = entscheidung.periode
            faellig.append(
                Faelligkeit(
                    art=Versandart.ABFRAGE,
                    schluessel=schluessel(
                        Versandart.ABFRAGE, slug, _zeitschluessel(periode.termin)
                    ),
                    termin=periode.termin,
                    faellig_am=periode.faellig_am,
                    festgestellt=jetzt,
                    themenfeld_id=feld_id,
                    themenfeld_slug=slug,
                    verspaetet=entscheidung.verspaetet,
                    ueberspringen=entscheidung.ueberspringen,
                )
            )
    return faellig


async def faelliger_wochenbericht(
    sitzung: AsyncSession,
    *,
    jetzt: dt.datetime,
    zeitzone: ZoneInfo,
    zeitplan: Zeitplan,
    nachholfrist: dt.timedelta,
) -> list[Faelligkeit]:
    """Der Wochenbericht, wenn er jetzt fällig ist, und ausgefallene zum Überspringen.

    Höchstens einer ist zu senden (`ueberspringen` falsch), er steht dann vorn. Nicht
    verschoben: der Wochenbericht kommt auch an Feiertagen und am Wochenende. Eine Abfrage.
    """
    zuletzt = (await _zuletzt_eingetragen(sitzung, Versandart.WOCHENBERICHT)).get(None)
    return [
        Faelligkeit(
            art=Versandart.WOCHENBERICHT,
            schluessel=schluessel(
                Versandart.WOCHENBERICHT, None, _zeitschluessel(e.periode.termin)
            ),
            termin=e.periode.termin,
            faellig_am=e.periode.faellig_am,
            festgestellt=jetzt,
            verspaetet=e.verspaetet,
            ueberspringen=e.ueberspringen,
        )
        for e in _entscheide(
            zeitplan,
            jetzt=jetzt,
            zeitzone=zeitzone,
            verschieben=False,
            zuletzt=zuletzt,
            aktiv_seit=None,
            nachholfrist=nachholfrist,
        )
    ]


# --- Überfällige Projekte und Erinnerungen -------------------------------------------------


async def ueberfaellige_projekte(
    sitzung: AsyncSession, *, jetzt: dt.datetime
) -> list[Ueberfaelligkeit]:
    """Die Projekte aktiver Felder, die zu `jetzt` überfällig sind, mit allem für die Erinnerung.

    Die Regel ist `modelle.stand.ist_ueberfaellig()`, gezählt ab `still_seit()` aus der
    neuesten gültigen Meldung und der letzten Aufnahme laut Änderungsprotokoll. Eine
    Abfrage; sortiert wie die Struktur.
    """
    aufgenommen = _aktivierungen("projekt")
    zeilen = await sitzung.execute(
        select(
            Strategieprojekt.id,
            Strategieprojekt.slug,
            Strategieprojekt.titel,
            Themenfeld.id.label("feld_id"),
            Themenfeld.slug.label("feld_slug"),
            Themenfeld.name.label("feld_name"),
            Themenfeld.ueberfaellig_nach_tagen,
            Raum.raum_id,
            neueste_meldung(Statusmeldung.zeitpunkt).label("zeitpunkt"),
            neueste_meldung(Statusmeldung.ampel).label("ampel"),
            aufgenommen.c.seit,
        )
        .join(Themenfeld, Themenfeld.id == Strategieprojekt.themenfeld_id)
        .outerjoin(Raum, Raum.themenfeld_id == Themenfeld.id)
        .outerjoin(aufgenommen, aufgenommen.c.objekt == Strategieprojekt.slug)
        .where(~Themenfeld.archiviert, ~Strategieprojekt.archiviert)
        .order_by(*STRUKTURFOLGE)
    )
    ergebnis: list[Ueberfaelligkeit] = []
    for zeile in zeilen:
        ampel = None if zeile.ampel is None else Ampel(zeile.ampel)
        bezug = still_seit(zeile.zeitpunkt, zeile.seit)
        if not ist_ueberfaellig(
            ampel, bezug, frist_tage=zeile.ueberfaellig_nach_tagen, stichtag=jetzt
        ):
            continue
        ergebnis.append(
            Ueberfaelligkeit(
                projekt_id=zeile.id,
                projekt_slug=zeile.slug,
                projekt_titel=zeile.titel,
                themenfeld_id=zeile.feld_id,
                themenfeld_slug=zeile.feld_slug,
                themenfeld_name=zeile.feld_name,
                raum_id=zeile.raum_id,
                frist_tage=zeile.ueberfaellig_nach_tagen,
                letzte_meldung=zeile.zeitpunkt,
                letzte_ampel=ampel,
                bezug=bezug,
            )
        )
    return ergebnis


async def faellige_erinnerungen(
    sitzung: AsyncSession,
    *,
    jetzt: dt.datetime,
    zeitzone: ZoneInfo,
    zeitplan: Zeitplan | None = None,
    nachholfrist: dt.timedelta | None = None,
) -> list[Erinnerung]:
    """Die Erinnerungen, die jetzt zu senden sind; nur an Arbeitstagen (NRW).

    Ohne `zeitplan` ist `jetzt` der Prüftermin (der Scheduler ruft zur rechten Zeit).
    Mit `zeitplan` (etwa „täglich 10:00“) gilt dessen letzter Termin: fiel er auf keinen
    Arbeitstag oder liegt er länger als `nachholfrist` zurück, ist nichts fällig. So darf
    der Bot auch beim Start oder öfter nachsehen, ohne abends oder am Feiertag zu stören.

    Je überfälligem Projekt und Tag höchstens eine Erinnerung; der Schlüssel
    `erinnerung:<projekt>:<Datum>` gilt für Raum und Direktnachricht, so verhindert schon
    die Datenbank eine zweite am selben Tag. Eine Überfälligkeit (seit der letzten Meldung)
    verläuft so: Stufe 1 im Raum, am nächsten Arbeitstag Stufe 2 im Raum, am nächsten
    Stufe 3 als Direktnachricht an die Pat*in; danach wöchentlich eine weitere
    Direktnachricht, bis gemeldet wird. Hat das Feld keine Pat*in, kommt die wöchentliche
    Erinnerung in den Raum. Eine neue Meldung beendet die Überfälligkeit; die nächste
    beginnt wieder bei Stufe 1. Drei Abfragen.
    """
    if zeitplan is None:
        pruefung: dt.datetime | None = jetzt
    else:
        pruefung = letzter_termin(zeitplan, jetzt, zeitzone)
        if pruefung is not None and nachholfrist is not None and jetzt - pruefung > nachholfrist:
            pruefung = None
    if pruefung is None:
        return []
    tag = pruefung.astimezone(zeitzone).date()
    if not ist_arbeitstag(tag):
        return []

    projekte = await ueberfaellige_projekte(sitzung, jetzt=jetzt)
    if not projekte:
        return []
    bisher = await _bisherige_erinnerungen(sitzung, [p.projekt_id for p in projekte])
    patinnen, koordination = await _zustaendige(sitzung, {p.themenfeld_id for p in projekte})

    erinnerungen: list[Erinnerung] = []
    for projekt in projekte:
        heute = schluessel(Versandart.ERINNERUNG, projekt.projekt_slug, tag.isoformat())
        eintraege = bisher.get(projekt.projekt_id, [])
        if any(e.schluessel == heute for e in eintraege):
            continue
        episode = [e for e in eintraege if projekt.bezug is None or e.erstellt > projekt.bezug]
        patin = patinnen.get(projekt.themenfeld_id)
        art = _naechste_art(episode, patin is not None, tag, zeitzone)
        if art is None:
            continue
        erinnerungen.append(
            Erinnerung(
                faelligkeit=Faelligkeit(
                    art=art,
                    schluessel=heute,
                    termin=pruefung,
                    faellig_am=pruefung,
                    festgestellt=jetzt,
                    themenfeld_id=projekt.themenfeld_id,
                    themenfeld_slug=projekt.themenfeld_slug,
                    projekt_id=projekt.projekt_id,
                ),
                stufe=len(episode) + 1,
                projekt=projekt,
                patin=patin,
                koordination=tuple(koordination.get(projekt.themenfeld_id, ())),
            )
        )
    return erinnerungen


@dataclass(frozen=True, slots=True)
class _Eintrag:
    schluessel: str
    art: Versandart
    erstellt: dt.datetime


def _naechste_art(
    episode: Sequence[_Eintrag], hat_patin: bool, tag: dt.date, zeitzone: ZoneInfo
) -> Versandart | None:
    im_raum = sum(e.art is Versandart.ERINNERUNG for e in episode)
    if im_raum < 2:
        return Versandart.ERINNERUNG
    direkt = sum(e.art is Versandart.ERINNERUNG_DM for e in episode)
    if hat_patin and direkt == 0:
        return Versandart.ERINNERUNG_DM
    zuletzt = max(e.erstellt for e in episode).astimezone(zeitzone).date()
    if tag - zuletzt < WIEDERHOLUNG:
        return None
    return Versandart.ERINNERUNG_DM if hat_patin else Versandart.ERINNERUNG


async def _bisherige_erinnerungen(
    sitzung: AsyncSession, projekt_ids: Iterable[int]
) -> dict[int, list[_Eintrag]]:
    zeilen = await sitzung.execute(
        select(Versand.projekt_id, Versand.schluessel, Versand.art, Versand.erstellt).where(
            Versand.projekt_id.in_(list(projekt_ids)),
            Versand.art.in_([Versandart.ERINNERUNG, Versandart.ERINNERUNG_DM]),
        )
    )
    bisher: dict[int, list[_Eintrag]] = defaultdict(list)
    for projekt_id, eintrag_schluessel, art, erstellt in zeilen:
        assert projekt_id is not None  # durch die Bedingung oben
        bisher[projekt_id].append(_Eintrag(eintrag_schluessel, Versandart(art), erstellt))
    return bisher


async def _zustaendige(
    sitzung: AsyncSession, feld_ids: Iterable[int]
) -> tuple[dict[int, PersonEintrag], dict[int, list[PersonEintrag]]]:
    """(Pat*in je Feld, Koordinator*innen je Feld nach Namen)."""
    zeilen = await sitzung.execute(
        select(
            Rollenzuweisung.themenfeld_id,
            Rollenzuweisung.rolle,
            Person.id,
            Person.matrix_id,
            Person.anzeigename,
        )
        .join(Person, Person.id == Rollenzuweisung.person_id)
        .where(
            Rollenzuweisung.themenfeld_id.in_(list(feld_ids)),
            Rollenzuweisung.rolle.in_([Rolle.PATIN, Rolle.KOORDINATION]),
        )
        .order_by(Person.anzeigename, Person.id)
    )
    patinnen: dict[int, PersonEintrag] = {}
    koordination: dict[int, list[PersonEintrag]] = defaultdict(list)
    for feld_id, rolle, person_id, matrix_id, anzeigename in zeilen:
        assert feld_id is not None  # durch die Bedingung oben
        person = PersonEintrag(person_id, matrix_id, anzeigename)
        if Rolle(rolle) is Rolle.PATIN:
            patinnen[feld_id] = person
        else:
            koordination[feld_id].append(person)
    return patinnen, koordination


# --- Für den Wochenbericht -----------------------------------------------------------------


async def versaeumte_seit(
    sitzung: AsyncSession, seit: dt.datetime | None, bis: dt.datetime | None = None
) -> list[Versaeumnis]:
    """Übersprungene Abfragen und Wochenberichte, entschieden nach `seit` (bis `bis`).

    Maßgeblich ist, wann übersprungen wurde, nicht der Termin: was nach langer Pause
    eingetragen wird, steht so genau einmal im nächsten Wochenbericht, auch wenn sein
    Termin vor dem letzten lag. Sortiert nach Termin, dann Feld.
    """
    abfrage = (
        select(
            Versand.art,
            Versand.themenfeld_id,
            Themenfeld.slug,
            Themenfeld.name,
            Versand.termin,
            Versand.faellig_am,
            Versand.erstellt,
        )
        .outerjoin(Themenfeld, Themenfeld.id == Versand.themenfeld_id)
        .where(Versand.status == Versandstatus.UEBERSPRUNGEN)
        .order_by(Versand.termin, Themenfeld.reihenfolge, Versand.themenfeld_id)
    )
    if seit is not None:
        abfrage = abfrage.where(Versand.erstellt > seit)
    if bis is not None:
        abfrage = abfrage.where(Versand.erstellt <= bis)
    return [
        Versaeumnis(
            art=Versandart(art),
            themenfeld_id=feld_id,
            themenfeld_slug=slug,
            themenfeld_name=name,
            termin=termin,
            faellig_am=faellig_am,
            erstellt=erstellt,
        )
        for art, feld_id, slug, name, termin, faellig_am, erstellt in await sitzung.execute(abfrage)
    ]


def letzter_wochenbericht_abfrage() -> Select[dt.datetime]:
    """Bis wann der zuletzt gesendete (auch verspätet gesendete) Wochenbericht berichtete."""
    return select(func.max(Versand.erstellt)).where(
        Versand.art == Versandart.WOCHENBERICHT,
        Versand.status.in_([Versandstatus.GESENDET, Versandstatus.VERSPAETET]),
    )


async def letzter_wochenbericht(sitzung: AsyncSession) -> dt.datetime | None:
    """Bis wann der zuletzt gesendete Wochenbericht berichtete (sein `erstellt`); sonst None."""
    return await sitzung.scalar(letzter_wochenbericht_abfrage())
