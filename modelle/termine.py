"""Wann etwas fällig ist: Termine eines Zeitplans in Ortszeit, Feiertage in NRW, Arbeitstage.

Reine Funktionen ohne Datenbank und ohne Scheduler: jede bekommt den Zeitpunkt, von dem
aus sie rechnet (`jetzt`), als Argument. So lassen sich Sommerzeit, Feiertage und
Ausfallzeiten mit einer eingespeisten Uhr testen, und die Bot-Schicht kann ihren
Scheduler mit genau den Zeitpunkten wecken, die auch die Entscheidung über das Senden
treffen.

Zeitpläne gelten in Ortszeit: „mo 09:00“ ist montags 09:00 in `zeitzone`, im Winter wie
im Sommer. Zurückgegeben wird immer ein zeitzonenbewusster Zeitpunkt in UTC.

Die zwei Stunden im Jahr, die in Ortszeit nicht eindeutig sind:

- **Die fehlende Stunde** (letzter Sonntag im März, 02:00–03:00 in Europe/Berlin): ein
  Termin in dieser Lücke findet um dieselbe Zeitspanne später statt, „so 02:30“ also um
  03:30 Sommerzeit. Er fällt nie aus. Fällt er dadurch mit einem anderen Termin desselben
  Zeitplans zusammen (Cron „0 2,3 * * *“), gibt es ihn nur einmal.
- **Die doppelte Stunde** (letzter Sonntag im Oktober, 02:00–03:00): ein Termin darin
  findet beim ersten Durchlauf statt (noch Sommerzeit), nie zweimal.

Eine **Periode** ist ein regulärer Termin zusammen mit dem Zeitpunkt, an dem er fällig
wird. Abfragen und Erinnerungen rücken von Wochenenden und Feiertagen auf den nächsten
Arbeitstag zur selben Uhrzeit. Landet ein verschobener Termin am oder nach dem nächsten
regulären Termin desselben Zeitplans (Karfreitag bei „fr,mo 09:00“ rückt auf Dienstag,
hinter den Ostermontag), geht er in jenem auf: es gibt eine Periode, nicht zwei.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from modelle.zeitplan import Zeitplan, cron_werte, cron_wochentage

# Rückwärts genügt ein gutes Jahr: für die Frage, was fällig ist, zählen Stunden bis
# Wochen. Vorwärts muss der nächste 29. Februar noch gefunden werden (Cron „0 9 29 2 *“).
RUECKBLICK_TAGE = 400
VORAUSBLICK_TAGE = 4 * 366
# Wochenende und Feiertage liegen nie länger am Stück (längste Folge in NRW: vier Tage).
_LAENGSTE_PAUSE_TAGE = 14


@dataclass(frozen=True, slots=True)
class Periode:
    """Ein regulärer Termin (`termin`) und wann er nach Verschieben fällig ist (`faellig_am`).

    Ohne Verschieben (Wochenbericht) sind beide gleich. Beide in UTC.
    """

    termin: dt.datetime
    faellig_am: dt.datetime

    @property
    def verschoben(self) -> bool:
        return self.faellig_am != self.termin


# --- Feiertage und Arbeitstage ----------------------------------------------------------


# Die Feiertage des vereinten Deutschlands, wie sie das Paket `holidays` ab 1991 kennt.
# Der Bot rechnet sie selbst: das Paket lädt beim ersten Aufruf alle ~300 Länder (+12 MB
# im laufenden Bot). tests/test_termine.py vergleicht jedes Jahr 1991–2100 mit dem Paket.
_ERSTES_JAHR = 1991


def _ostersonntag(jahr: int) -> dt.date:
    """Ostersonntag im gregorianischen Kalender (Gaußsche Osterformel nach Meeus/Jones/Butcher)."""
    a = jahr % 19
    b, c = divmod(jahr, 100)
    d, e = divmod(b, 4)
    g = (b - (b + 8) // 25 + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    wochentag = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * wochentag) // 451
    monat, tag = divmod(h + wochentag - 7 * m + 114, 31)
    return dt.date(jahr, monat, tag + 1)


@functools.lru_cache(maxsize=16)
def _feiertage(jahr: int) -> dict[dt.date, str]:
    """Die gesetzlichen Feiertage in Nordrhein-Westfalen (Feiertagsgesetz NW) in `jahr`."""
    if jahr < _ERSTES_JAHR:
        return {}
    ostern = _ostersonntag(jahr)
    tage = [
        (dt.date(jahr, 1, 1), "Neujahr"),
        (ostern - dt.timedelta(days=2), "Karfreitag"),
        (ostern + dt.timedelta(days=1), "Ostermontag"),
        (dt.date(jahr, 5, 1), "Erster Mai"),
        (ostern + dt.timedelta(days=39), "Christi Himmelfahrt"),
        (ostern + dt.timedelta(days=50), "Pfingstmontag"),
        (ostern + dt.timedelta(days=60), "Fronleichnam"),
        (dt.date(jahr, 10, 3), "Tag der Deutschen Einheit"),
        (dt.date(jahr, 11, 1), "Allerheiligen"),
        (dt.date(jahr, 12, 25), "Erster Weihnachtstag"),
        (dt.date(jahr, 12, 26), "Zweiter Weihnachtstag"),
    ]
    if jahr <= 1994:
        # Bundesweit bis zu seiner Abschaffung 1995: der Mittwoch zwischen 16. und 22. November.
        frueheste = dt.date(jahr, 11, 16)
        tage.append(
            (frueheste + dt.timedelta(days=(2 - frueheste.weekday()) % 7), "Buß- und Bettag")
        )
    if jahr == 2017:
        tage.append((dt.date(2017, 10, 31), "Reformationstag"))  # einmalig bundesweit
    namen: dict[dt.date, list[str]] = {}
    for datum, name in tage:
        namen.setdefault(datum, []).append(name)
    # Fällt Christi Himmelfahrt auf den 1. Mai (2008), trägt der Tag beide Namen, wie im Paket.
    return {datum: "; ".join(sorted(liste)) for datum, liste in namen.items()}


def feiertag(datum: dt.date) -> str | None:
    """Der Name des gesetzlichen Feiertags in Nordrhein-Westfalen an `datum`, sonst None."""
    return _feiertage(datum.year).get(datum)


def ist_arbeitstag(datum: dt.date) -> bool:
    """Montag bis Freitag und kein gesetzlicher Feiertag in NRW."""
    return datum.weekday() < 5 and feiertag(datum) is None


def naechster_arbeitstag(datum: dt.date) -> dt.date:
    """`datum` selbst, wenn es ein Arbeitstag ist, sonst der nächste."""
    for _ in range(_LAENGSTE_PAUSE_TAGE):
        if ist_arbeitstag(datum):
            return datum
        datum += dt.timedelta(days=1)
    raise AssertionError(f"kein Arbeitstag in {_LAENGSTE_PAUSE_TAGE} Tagen ab {datum}")


# --- Ortszeit -----------------------------------------------------------------------------


def ortszeit(datum: dt.date, uhrzeit: dt.time, zeitzone: ZoneInfo) -> dt.datetime:
    """Die Uhrzeit an diesem Tag in `zeitzone`, als UTC (Lücke und Doppelung siehe oben)."""
    # fold=0 heißt nach PEP 495: in der Lücke gilt der Abstand von vorher (also später auf
    # der Uhr), in der doppelten Stunde der erste Durchlauf.
    lokal = dt.datetime.combine(datum, uhrzeit.replace(tzinfo=None, fold=0), tzinfo=zeitzone)
    return lokal.astimezone(dt.UTC)


def verschiebe_auf_arbeitstag(termin: dt.datetime, zeitzone: ZoneInfo) -> dt.datetime:
    """Derselbe Termin, oder dieselbe Ortszeit am nächsten Arbeitstag; in UTC."""
    lokal = _pruefe(termin).astimezone(zeitzone)
    return _verschiebe(lokal.date(), lokal.time(), zeitzone)


def _verschiebe(datum: dt.date, uhrzeit: dt.time, zeitzone: ZoneInfo) -> dt.datetime:
    return ortszeit(naechster_arbeitstag(datum), uhrzeit, zeitzone)


def _pruefe(zeitpunkt: dt.datetime) -> dt.datetime:
    if zeitpunkt.tzinfo is None or zeitpunkt.utcoffset() is None:
        raise ValueError(f"Zeitpunkt ohne Zeitzone: {zeitpunkt!r}")
    return zeitpunkt


# --- Reguläre Termine ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Regel:
    """Ein Zeitplan als Mengen: an welchen Tagen, zu welchen Uhrzeiten."""

    wochentage: frozenset[int]  # 0 = Montag
    monatstage: frozenset[int]
    monate: frozenset[int]
    uhrzeiten: tuple[dt.time, ...]  # aufsteigend

    def uhrzeiten_am(self, datum: dt.date) -> tuple[dt.time, ...]:
        if (
            datum.weekday() in self.wochentage
            and datum.day in self.monatstage
            and datum.month in self.monate
        ):
            return self.uhrzeiten
        return ()


_ALLE_MONATSTAGE = frozenset(range(1, 32))
_ALLE_MONATE = frozenset(range(1, 13))


@functools.lru_cache(maxsize=64)
def _regel(zeitplan: Zeitplan) -> _Regel:
    if zeitplan.cron is None:
        assert zeitplan.uhrzeit is not None
        return _Regel(
            frozenset(zeitplan.wochentage), _ALLE_MONATSTAGE, _ALLE_MONATE, (zeitplan.uhrzeit,)
        )
    minute, stunde, tag, monat, wochentag = zeitplan.cron
    text = str(zeitplan)
    minuten = sorted(cron_werte(minute, "Minute", 0, 59, text))
    stunden = sorted(cron_werte(stunde, "Stunde", 0, 23, text))
    # `Zeitplan` lässt nur Tag oder Wochentag eingeschränkt zu; dann ist „und“ dasselbe wie
    # das „oder“ von Cron, und beide Mengen dürfen einfach geschnitten werden.
    return _Regel(
        wochentage=frozenset(cron_wochentage(wochentag)),
        monatstage=frozenset(cron_werte(tag, "Tag", 1, 31, text)),
        monate=frozenset(cron_werte(monat, "Monat", 1, 12, text)),
        uhrzeiten=tuple(dt.time(h, m) for h in stunden for m in minuten),
    )


@dataclass(frozen=True, slots=True)
class _Vorkommen:
    utc: dt.datetime
    datum: dt.date
    uhrzeit: dt.time


def _am_tag(regel: _Regel, datum: dt.date, zeitzone: ZoneInfo) -> list[_Vorkommen]:
    """Die Termine eines Tages, aufsteigend in UTC; in der Lücke Zusammenfallende einmal."""
    gesehen: dict[dt.datetime, _Vorkommen] = {}
    for uhrzeit in regel.uhrzeiten_am(datum):
        utc = ortszeit(datum, uhrzeit, zeitzone)
        gesehen.setdefault(utc, _Vorkommen(utc, datum, uhrzeit))
    return sorted(gesehen.values(), key=lambda v: v.utc)


def _rueckwaerts(
    zeitplan: Zeitplan, jetzt: dt.datetime, zeitzone: ZoneInfo
) -> Iterator[_Vorkommen]:
    """Termine zu oder vor `jetzt`, neuester zuerst, höchstens `RUECKBLICK_TAGE` zurück."""
    regel = _regel(zeitplan)
    heute = _pruefe(jetzt).astimezone(zeitzone).date()
    zuletzt: dt.datetime | None = None
    for zurueck in range(RUECKBLICK_TAGE + 1):
        for vorkommen in reversed(_am_tag(regel, heute - dt.timedelta(days=zurueck), zeitzone)):
            # Streng fallend, auch wenn eine Lückenzeit über Mitternacht in den Folgetag rückte.
            if vorkommen.utc <= jetzt and (zuletzt is None or vorkommen.utc < zuletzt):
                zuletzt = vorkommen.utc
                yield vorkommen


def _vorwaerts(zeitplan: Zeitplan, jetzt: dt.datetime, zeitzone: ZoneInfo) -> Iterator[_Vorkommen]:
    """Termine nach `jetzt`, frühester zuerst, höchstens `VORAUSBLICK_TAGE` voraus."""
    regel = _regel(zeitplan)
    heute = _pruefe(jetzt).astimezone(zeitzone).date()
    zuletzt: dt.datetime | None = None
    for voraus in range(VORAUSBLICK_TAGE + 1):
        for vorkommen in _am_tag(regel, heute + dt.timedelta(days=voraus), zeitzone):
            if vorkommen.utc > jetzt and (zuletzt is None or vorkommen.utc > zuletzt):
                zuletzt = vorkommen.utc
                yield vorkommen


def letzter_termin(
    zeitplan: Zeitplan, jetzt: dt.datetime, zeitzone: ZoneInfo
) -> dt.datetime | None:
    """Der neueste reguläre Termin zu oder vor `jetzt` (UTC); None, wenn keiner im Rückblick."""
    return next((v.utc for v in _rueckwaerts(zeitplan, jetzt, zeitzone)), None)


def naechster_termin(
    zeitplan: Zeitplan, jetzt: dt.datetime, zeitzone: ZoneInfo
) -> dt.datetime | None:
    """Der erste reguläre Termin nach `jetzt` (UTC); None, wenn keiner im Vorausblick."""
    return next((v.utc for v in _vorwaerts(zeitplan, jetzt, zeitzone)), None)


# --- Perioden -----------------------------------------------------------------------------


def _faellig(vorkommen: _Vorkommen, zeitzone: ZoneInfo, verschieben: bool) -> dt.datetime:
    if not verschieben:
        return vorkommen.utc
    # Die Uhrzeit des Zeitplans, nicht die der Ortszeit: „so 02:30“ am Umstellungstag
    # rückt auf Montag 02:30, nicht auf 03:30.
    return _verschiebe(vorkommen.datum, vorkommen.uhrzeit, zeitzone)


def perioden_rueckwaerts(
    zeitplan: Zeitplan, jetzt: dt.datetime, zeitzone: ZoneInfo, *, verschieben: bool = True
) -> Iterator[Periode]:
    """Die Perioden mit regulärem Termin zu oder vor `jetzt`, neueste zuerst.

    `faellig_am` der neuesten kann nach `jetzt` liegen (Ostermontag → Dienstag). Perioden,
    die in der nächsten aufgehen, erscheinen nicht.
    """
    folgender = naechster_termin(zeitplan, jetzt, zeitzone)
    for vorkommen in _rueckwaerts(zeitplan, jetzt, zeitzone):
        faellig = _faellig(vorkommen, zeitzone, verschieben)
        if folgender is None or faellig < folgender:
            yield Periode(vorkommen.utc, faellig)
        folgender = vorkommen.utc


def naechste_periode(
    zeitplan: Zeitplan, jetzt: dt.datetime, zeitzone: ZoneInfo, *, verschieben: bool = True
) -> Periode | None:
    """Die nächste Periode, deren `faellig_am` nach `jetzt` liegt.

    Dafür, wann der Bot das nächste Mal nachsehen soll, und für die Anzeige des nächsten
    Laufs (`!zeitplan`): an Ostermontag ist das der Dienstag, nicht der Montag danach.
    """
    letzte = next(perioden_rueckwaerts(zeitplan, jetzt, zeitzone, verschieben=verschieben), None)
    if letzte is not None and letzte.faellig_am > jetzt:
        return letzte
    kommende = _vorwaerts(zeitplan, jetzt, zeitzone)
    vorkommen = next(kommende, None)
    while vorkommen is not None:
        folgendes = next(kommende, None)
        faellig = _faellig(vorkommen, zeitzone, verschieben)
        if folgendes is None or faellig < folgendes.utc:
            return Periode(vorkommen.utc, faellig)
        vorkommen = folgendes
    return None
