"""Zwölf Wochen Vorgeschichte für die Demo: Import, Wochenmeldungen, ein Abschluss, ein Schweigen.

Ohne sie begänne die Demo mit einer Struktur, die eine Minute alt ist: Der Wochenbericht
zählte jedes Projekt als neu und keinen Ampelwechsel, das Diagramm zeigte zwölf gleiche Wochen.
Mit ihr liegt der Import der Beispielstruktur gut zwölf Wochen zurück, und seitdem haben die
Themenpat*innen und Klimakoordinator*innen nach den Abfragen ihrer Felder gemeldet: ein
Projekt ist inzwischen abgeschlossen, um eins ist es zu lange still geworden.

Alles geht dieselben Wege wie im Betrieb, nur mit der Uhr der Vorgeschichte: die Strukturdatei
über `uebernimm_strukturdatei` (wie beim Start des Bots, der sie danach als bekannt überspringt),
jede Meldung durch `befehle/` – als `!meldung`, als Antwort auf die Zeile des Projekts in der
Abfrage oder als Tipp auf 🟢 🟡 🔴 – mit ihrem Zeitpunkt in `Anfrage.jetzt`. Hier wird keine
Tabelle direkt beschrieben.

Was geschieht, legen zwei Teile fest: das Drehbuch (die Wendungen je Projekt, von Hand
geschrieben) und der Alltag dazwischen (wer wann bestätigt, aus einem festen Startwert). Wer wann
meldet, richtet sich nach den Abfrage-Zeitplänen der Felder, Feiertage und Zeitumstellungen
inbegriffen. Dieselbe Struktur und dasselbe Ende ergeben dieselbe Geschichte.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from befehle import alle_befehle
from befehle.ausfuehrung import beantworte
from befehle.grundlagen import Anfrage, Antwort, Benutzerfehler, Registratur
from befehle.schnellmeldung import melde_per_antwort, melde_per_reaktion
from bot.app import betrieb_aus, uebernimm_strukturdatei
from bot.config import Einstellungen
from modelle.datenbank import Sitzungsfabrik
from modelle.stand import ist_ueberfaellig
from modelle.strukturdatei import Struktur, ThemenfeldAngabe
from modelle.termine import ist_arbeitstag, ortszeit, perioden_rueckwaerts
from modelle.verzeichnis import lade_verzeichnis
from modelle.werte import Ampel, Rolle
from modelle.zeitplan import Zeitplan

WOCHEN = 12
# Der Import liegt ein paar Tage vor der ersten Woche: schon der älteste Balken des Diagramms
# zeigt dann die ersten Meldungen.
IMPORT_VORLAUF = dt.timedelta(days=3)
IMPORT_UHRZEIT = dt.time(11, 0)
# Fällt in einer Woche die Abfrage eines Felds weg (Feiertag), meldet man per Befehl, am ersten
# Arbeitstag der Woche um diese Zeit.
ERSATZ_UHRZEIT = dt.time(11, 0)
# Zwischen Abfrage und Meldung vergeht etwas Zeit, aber nicht der halbe Tag.
VERZUG_MINUTEN = (10, 240)
# Eine Abfrage, die gerade erst kam, hat noch niemand beantwortet.
FRISCH = dt.timedelta(minutes=20)
# So lange nach dem Ende der Vorgeschichte ist außer dem einen Projekt noch keins überfällig:
# Szene und Ausprobieren dürfen dauern.
SPIELRAUM = dt.timedelta(days=2)
# Wie oft sich im Alltag jemand ohne Anlass meldet; sonst erst, bevor die Frist abläuft.
ALLTAGSMELDUNG = 0.3
STARTWERT = 14  # Issue 14


class Weg(enum.Enum):
    """Wie eine Meldung in den Chat kommt – dieselben drei Wege wie im Betrieb."""

    BEFEHL = "!meldung"
    ANTWORT = "Antwort im Thread der Abfrage"
    TIPP = "Tipp auf 🟢 🟡 🔴"


@dataclass(frozen=True, slots=True)
class Wendung:
    """Ein Moment im Drehbuch eines Projekts: in dieser Woche meldet jemand diesen Stand."""

    woche: int  # Wochen vor dem Ende: 12 ist die erste nach dem Import, 1 die letzte
    ampel: Ampel
    fortschritt: int | None
    text: str
    herausforderung: str | None = None
    von: Rolle = Rolle.KOORDINATION


def _w(
    woche: int,
    ampel: Ampel,
    fortschritt: int | None,
    text: str,
    herausforderung: str | None = None,
    *,
    patin: bool = False,
) -> Wendung:
    return Wendung(
        woche,
        ampel,
        fortschritt,
        text,
        herausforderung,
        Rolle.PATIN if patin else Rolle.KOORDINATION,
    )


GRUEN, GELB, ROT, FERTIG = Ampel.GRUEN, Ampel.GELB, Ampel.ROT, Ampel.ABGESCHLOSSEN

# Die Wendungen je Projekt der Beispielstruktur (beispiele/muenster.toml). Für Energie endet das
# Drehbuch so, dass die Szene vier Ampeln wechselt: Wärmeplanung grün → gelb, PV-Offensive und
# Fernwärme gelb → grün, Windenergie rot → gelb. In der letzten Woche wechseln außerdem vier
# Projekte anderer Felder, eins davon zu „abgeschlossen“.
DREHBUCH: Mapping[str, tuple[Wendung, ...]] = {
    "waermeplanung": (
        _w(11, GRUEN, 40, "Förderbescheid liegt vor; Ausschreibung der Bestands- und "
           "Potenzialanalyse vorbereitet", patin=True),
        _w(6, GRUEN, 40, "Vergabeunterlagen mit den Stadtwerken abgestimmt"),
    ),
    "pv-offensive": (
        _w(10, GRUEN, 27, "Grundschule Kinderhaus und Sporthalle Gievenbeck am Netz"),
        _w(5, GELB, 29, "Lieferengpass bei Wechselrichtern",
           "Wechselrichter erst in acht Wochen lieferbar"),
    ),
    "fernwaerme-dekarbonisierung": (
        _w(12, GRUEN, 5, "Machbarkeitsstudie Großwärmepumpe am Hafen beauftragt", patin=True),
        _w(7, GELB, 10, "Studie liegt vor; Förderantrag gestellt",
           "Förderzusage aus der Bundesförderung effiziente Wärmenetze steht aus"),
    ),
    "windenergie-flaechen": (
        _w(9, ROT, 15, "Artenschutzgutachten fehlt noch",
           "Gutachterbüros ausgelastet, Angebote erst im nächsten Quartal"),
        _w(3, ROT, 18, "Gutachten beauftragt, erste Kartierungen laufen",
           "Ergebnisse der Kartierung abwarten"),
    ),
    "radvorrangrouten": (
        _w(10, GELB, 37, "Abschnitt Hiltrup im Bau", "Grunderwerb im Abschnitt Nord stockt"),
        _w(6, GELB, 38, "Planfeststellung für den Abschnitt Nord beantragt",
           "Zwei Eigentümer*innen verkaufen nicht"),
        _w(1, GRUEN, 42, "Einigung mit den Eigentümer*innen erzielt; Baubeginn im Abschnitt "
           "Nord im Frühjahr", patin=True),
    ),
    "mobilstationen": (
        _w(9, GRUEN, 58, "Mobilstation Hiltrup-Mitte eröffnet"),
        _w(4, GRUEN, 61, "Standorte Coerde und Amelsbüren mit den Bezirksvertretungen abgestimmt"),
    ),
    "e-busflotte": (
        _w(12, GRUEN, 30, "20 von 66 Bussen fahren elektrisch"),
        _w(8, GELB, 32, "Netzanschluss am Betriebshof verzögert sich",
           "Trafostation kommt später als geplant"),
        _w(1, ROT, 32, "Lieferung der nächsten 15 E-Busse verschoben",
           "Zulieferer des Herstellers insolvent, neuer Liefertermin offen", patin=True),
    ),
    "sanierung-schulen": (
        _w(11, GELB, 22, "Fenstertausch an der Gesamtschule Mitte vergeben", "Baupreise steigen"),
        _w(5, ROT, 22, "Angebote für die Lüftung der Realschule Wolbeck liegen 18 % über der "
           "Kostenschätzung", "Mehrkosten sind im Haushalt nicht gedeckt", patin=True),
        _w(1, GELB, 24, "Rat hat die Mehrkosten bewilligt; der Zeitplan verschiebt sich um ein "
           "Schulhalbjahr", "Bauen im laufenden Schulbetrieb", patin=True),
    ),
    "energiecontrolling": (
        _w(12, GELB, 10, "Zählerdaten von 140 der 420 Gebäude automatisch angebunden",
           "Schnittstelle zum Messstellenbetreiber fehlt"),
        _w(7, GELB, 18, "Schnittstelle steht, weitere 80 Gebäude angebunden",
           "Stelle im Energiemanagement unbesetzt"),
        _w(3, GRUEN, 25, "Stelle besetzt; erster Monatsbericht an die Hausmeisterdienste "
           "verschickt"),
    ),
    "klimapakt-wirtschaft": (
        _w(10, GRUEN, 62, "Drei weitere Unternehmen beigetreten, jetzt 48"),
        _w(4, GRUEN, 65, "Netzwerktreffen zur Abwärmenutzung mit 35 Teilnehmenden", patin=True),
    ),
    "reallabor-hochschulen": (
        _w(12, GRUEN, 15, "Die ersten drei Forschungsprojekte sind ausgewählt"),
        _w(6, GELB, 20, "Kooperationsvertrag mit der Fachhochschule noch nicht unterschrieben",
           "Rechtsprüfung zur Datennutzung dauert"),
        _w(2, GRUEN, 24, "Vertrag unterschrieben; Auftaktveranstaltung im Rathaus", patin=True),
    ),
    "betriebliches-mobilitaetsmanagement": (
        _w(12, GRUEN, 20, "Beratungen beim Universitätsklinikum und bei den Stadtwerken begonnen"),
        _w(5, GRUEN, 30, "Jobticket-Angebot mit acht Betrieben abgestimmt"),
    ),
    "klimabildung-kitas": (
        _w(9, GRUEN, 74, "Fortbildungsreihe für Erzieher*innen ausgebucht"),
        _w(3, GRUEN, 78, "Materialkisten an 60 Kitas ausgeliefert"),
    ),
    "gemeinschaftsverpflegung": (
        _w(11, GELB, 15, "Ausschreibung der Schulverpflegung mit Bio-Quote veröffentlicht",
           "Caterer*innen kalkulieren mit deutlich höheren Preisen"),
        _w(8, ROT, 15, "Ausschreibung aufgehoben, kein wirtschaftliches Angebot",
           "Bio-Quote und Preisobergrenze passen nicht zusammen", patin=True),
        _w(4, GELB, 20, "Zwei Kantinen stellen auf eine pflanzenbetonte Menülinie um; neue "
           "Ausschreibung mit Stufenplan veröffentlicht", "Preise der Caterer*innen"),
    ),
    "klimaschulen": (
        _w(12, GRUEN, 10, "Zwölf Schulen im Netzwerk"),
        _w(6, GRUEN, 20, "Energiesparprämie für das erste Halbjahr ausgezahlt", patin=True),
    ),
    "energieberatung": (
        _w(10, GELB, 52, "Beratungen in Kinderhaus ausgebucht, sechs Wochen Wartezeit",
           "Zu wenige Energieberater*innen"),
        _w(3, GRUEN, 56, "Zwei zusätzliche Berater*innen über die Verbraucherzentrale"),
    ),
    "reparaturorte": (
        _w(12, GELB, 5, "Raumsuche für das Repair-Café in Berg Fidel",
           "Kein barrierefreier Raum in Sicht"),
        _w(7, GRUEN, 15, "Raum im Stadtteilhaus gefunden, erstes Repair-Café hat stattgefunden"),
    ),
    "klimaanpassungskonzept": (
        _w(10, GRUEN, 85, "Entwurf der Fortschreibung mit den Ämtern abgestimmt"),
        _w(6, GRUEN, 92, "Öffentlichkeitsbeteiligung abgeschlossen, 214 Hinweise eingearbeitet"),
        _w(1, FERTIG, 100, "Rat hat die Fortschreibung beschlossen", patin=True),
    ),
    "starkregenvorsorge": (
        _w(11, ROT, 32, "Gefahrenkarte intern abgestimmt",
           "Veröffentlichung wartet auf die Freigabe des Datenschutzes"),
        _w(6, GELB, 40, "Starkregengefahrenkarte veröffentlicht",
           "Für Notwasserwege fehlen Flächen, die Verhandlungen laufen", patin=True),
        _w(2, GELB, 44, "Beratungsabende für Grundstückseigentümer*innen gut besucht",
           "Für Notwasserwege fehlen Flächen, die Verhandlungen laufen"),
    ),
    "hitzeaktionsplan": (
        _w(9, GELB, 48, "Liste kühler Orte erstellt",
           "Für die aufsuchende Hilfe fehlen Partner*innen aus der Wohlfahrt"),
        _w(3, GRUEN, 55, "Kooperation mit Caritas und Diakonie vereinbart", patin=True),
    ),
    "stadtbaeume": (
        _w(12, GRUEN, 20, "Pflanzliste mit hitzetoleranten Arten festgelegt"),
        _w(8, GRUEN, 35, "Pflanzungen in drei Stadtteilen begonnen"),
        _w(5, GELB, 40, "Pflanzungen in der Innenstadt unterbrochen: Baumscheiben zu klein",
           "Leitungen im Untergrund"),
    ),
}  # fmt: skip

# Nach seiner letzten Wendung meldet dieses Projekt nichts mehr: das überfällige im Bericht.
VERSTUMMT = "stadtbaeume"

# Was im Alltag zwischen den Wendungen gemeldet wird, wenn sich an der Ampel nichts ändert.
ALLTAG = (
    "Läuft nach Plan",
    "Keine Änderungen seit der letzten Meldung",
    "Abstimmung mit den beteiligten Ämtern läuft",
    "Zwischenstand im Fachausschuss vorgestellt",
    "Nächster Meilenstein in Vorbereitung",
    "Mittel für das kommende Haushaltsjahr angemeldet",
    "Jour fixe mit den Projektpartner*innen hat stattgefunden",
    "Arbeitsgruppe hat getagt, keine neuen Risiken",
)
# Wer für ein Projekt ohne Anfangsstand und ohne Drehbuch zum ersten Mal meldet.
ERSTE_MELDUNG = "Projekt angelaufen"


@dataclass(frozen=True, slots=True)
class GeplanteMeldung:
    zeitpunkt: dt.datetime
    woche: int
    absender: str
    themenfeld: str
    projekt: str
    weg: Weg
    ampel: Ampel
    # Für den Tipp ohne Bedeutung: der Bot übernimmt Fortschritt und Herausforderung.
    fortschritt: int | None = None
    text: str = ""
    herausforderung: str | None = None

    def inhalt(self) -> str:
        """Was nach dem Projektnamen steht, wie Menschen es schreiben: `gelb, 40 %, …`."""
        teile = [self.ampel.wort]
        if self.fortschritt is not None:
            teile.append(f"{self.fortschritt} %")
        if self.text:
            teile.append(self.text)
        inhalt = ", ".join(teile)
        if self.herausforderung:
            inhalt += f" Herausforderung: {self.herausforderung}"
        return inhalt


@dataclass(frozen=True, slots=True)
class Vorgeschichte:
    importzeit: dt.datetime
    meldungen: tuple[GeplanteMeldung, ...]  # zeitlich geordnet
    abgeschlossen: tuple[str, ...]  # Slugs der Projekte, die in ihr fertig wurden
    ueberfaellig: tuple[str, ...]  # Slugs der Projekte, die zum Ende zu lange still sind

    @property
    def personen(self) -> set[str]:
        return {m.absender for m in self.meldungen}

    def anzahl(self, weg: Weg) -> int:
        return sum(1 for m in self.meldungen if m.weg is weg)


@dataclass(frozen=True, slots=True)
class _Runde:
    """Wann in einer Woche für ein Feld gemeldet wird: nach seiner Abfrage oder ohne."""

    woche: int
    zeitpunkt: dt.datetime
    nach_abfrage: bool


@dataclass(slots=True)
class _Projektlage:
    ampel: Ampel | None
    fortschritt: int | None
    herausforderung: str | None
    zuletzt: dt.datetime


def _woche(ende: dt.datetime, zeitpunkt: dt.datetime) -> int:
    """1 für die sieben Tage vor `ende`, 2 für die sieben davor, …"""
    return (ende - zeitpunkt) // dt.timedelta(weeks=1) + 1


def _importzeit(ende: dt.datetime, zeitzone: ZoneInfo) -> dt.datetime:
    tag = (ende - dt.timedelta(weeks=WOCHEN) - IMPORT_VORLAUF).astimezone(zeitzone).date()
    while not ist_arbeitstag(tag):
        tag -= dt.timedelta(days=1)
    return ortszeit(tag, IMPORT_UHRZEIT, zeitzone)


def _runden(zeitplan: Zeitplan, ende: dt.datetime, zeitzone: ZoneInfo) -> list[_Runde]:
    """Je Woche die erste Abfrage des Felds (nach Verschieben auf Arbeitstage), sonst ein
    Ersatztermin ohne Abfrage; älteste zuerst."""
    abfragen: dict[int, dt.datetime] = {}
    for periode in perioden_rueckwaerts(zeitplan, ende, zeitzone):
        if periode.faellig_am > ende - FRISCH:
            continue
        woche = _woche(ende, periode.faellig_am)
        if woche > WOCHEN:
            break
        abfragen[woche] = periode.faellig_am  # rückwärts: am Ende bleibt die erste der Woche
    runden = []
    for woche in range(WOCHEN, 0, -1):
        if woche in abfragen:
            runden.append(_Runde(woche, abfragen[woche], nach_abfrage=True))
        elif (ersatz := _ersatztermin(woche, ende, zeitzone)) is not None:
            runden.append(_Runde(woche, ersatz, nach_abfrage=False))
    return runden


def _ersatztermin(woche: int, ende: dt.datetime, zeitzone: ZoneInfo) -> dt.datetime | None:
    beginn = ende - dt.timedelta(weeks=woche)
    schluss = beginn + dt.timedelta(weeks=1) - FRISCH
    tag = beginn.astimezone(zeitzone).date()
    while (zeitpunkt := ortszeit(tag, ERSATZ_UHRZEIT, zeitzone)) < schluss:
        if zeitpunkt >= beginn and ist_arbeitstag(tag):
            return zeitpunkt
        tag += dt.timedelta(days=1)
    return None


def _naechste_runde(runden: Sequence[_Runde], woche: int) -> int:
    """Die Woche der Runde, in der eine Wendung der Woche `woche` gemeldet wird: dieselbe oder
    die nächstliegende (bei Gleichstand die spätere)."""
    return min((r.woche for r in runden), key=lambda w: (abs(w - woche), w))


class _Regie:
    """Setzt das Drehbuch in Meldungen um und füllt den Alltag dazwischen, mit festem Zufall."""

    def __init__(
        self, struktur: Struktur, ende: dt.datetime, zeitzone: ZoneInfo, startwert: int
    ) -> None:
        self.struktur = struktur
        self.ende = ende
        self.zeitzone = zeitzone
        self.zufall = random.Random(startwert)
        self.importzeit = _importzeit(ende, zeitzone)

    def personen(self, feld: str) -> tuple[str, list[str]]:
        """Pat*in und Koordinator*innen des Felds (Matrix-IDs)."""
        patin = next(p.matrix_id for p in self.struktur.personen if feld in p.patin)
        koordination = [p.matrix_id for p in self.struktur.personen if feld in p.koordination]
        return patin, koordination

    def absender(self, feld: str, rolle: Rolle) -> str:
        patin, koordination = self.personen(feld)
        if rolle is Rolle.PATIN or not koordination:
            return patin
        return self.zufall.choice(koordination)

    def zeitpunkt(self, runde: _Runde) -> dt.datetime:
        verzug = dt.timedelta(minutes=self.zufall.randint(*VERZUG_MINUTEN))
        # In der letzten Woche kann die Abfrage knapp vor dem Ende liegen: dann wird schneller
        # geantwortet, nie nach dem Ende.
        return runde.zeitpunkt + min(verzug, (self.ende - runde.zeitpunkt) / 2)

    def weg(self, runde: _Runde, *, wendung: bool) -> Weg:
        if not runde.nach_abfrage:
            return Weg.BEFEHL
        wurf = self.zufall.random()
        if wendung:
            return Weg.BEFEHL if wurf < 0.5 else Weg.ANTWORT
        return Weg.TIPP if wurf < 0.5 else Weg.ANTWORT if wurf < 0.85 else Weg.BEFEHL

    def feld(self, feld: ThemenfeldAngabe, abfrage_vorgabe: Zeitplan) -> list[GeplanteMeldung]:
        zeitplan = Zeitplan.aus_text(feld.abfrage) if feld.abfrage else abfrage_vorgabe
        runden = _runden(zeitplan, self.ende, self.zeitzone)
        frist = dt.timedelta(days=feld.ueberfaellig_nach_tagen)
        meldungen = []
        for projekt in (p for p in self.struktur.projekte if p.themenfeld == feld.slug):
            drehbuch = {_naechste_runde(runden, w.woche): w for w in DREHBUCH.get(projekt.slug, ())}
            lage = _Projektlage(projekt.ampel, projekt.fortschritt, None, self.importzeit)
            for runde, folgende in itertools.zip_longest(runden, runden[1:]):
                # Gemeldet wird, bevor die Frist abliefe: im Verlauf spätestens in der Runde, in
                # der sie abläuft (wie nach einer Erinnerung), zum Ende mit Spielraum.
                naechste = folgende.zeitpunkt if folgende is not None else self.ende + SPIELRAUM
                kommende = [w for w in drehbuch if w < runde.woche]
                meldung = self.meldung(
                    feld.slug,
                    projekt.slug,
                    runde,
                    lage,
                    wendung=drehbuch.get(runde.woche),
                    naechste_wendung=drehbuch[max(kommende)] if kommende else None,
                    faellig=naechste > lage.zuletzt + frist,
                    verstummt=projekt.slug == VERSTUMMT and not kommende,
                )
                if meldung is not None:
                    meldungen.append(meldung)
        return meldungen

    def meldung(
        self,
        feld: str,
        projekt: str,
        runde: _Runde,
        lage: _Projektlage,
        *,
        wendung: Wendung | None,
        naechste_wendung: Wendung | None,
        faellig: bool,
        verstummt: bool,
    ) -> GeplanteMeldung | None:
        """Die Meldung dieses Projekts in dieser Runde (und die Lage danach), oder keine."""
        if wendung is not None:
            meldung = GeplanteMeldung(
                zeitpunkt=self.zeitpunkt(runde),
                woche=runde.woche,
                absender=self.absender(feld, wendung.von),
                themenfeld=feld,
                projekt=projekt,
                weg=self.weg(runde, wendung=True),
                ampel=wendung.ampel,
                fortschritt=wendung.fortschritt,
                text=wendung.text,
                herausforderung=wendung.herausforderung,
            )
            lage.ampel, lage.fortschritt = wendung.ampel, wendung.fortschritt
            lage.herausforderung, lage.zuletzt = wendung.herausforderung, meldung.zeitpunkt
            return meldung
        # Abgeschlossen endet die Berichtspflicht; wer verstummt ist, schweigt.
        if lage.ampel is Ampel.ABGESCHLOSSEN or verstummt:
            return None
        if not faellig and self.zufall.random() >= ALLTAGSMELDUNG:
            return None
        rolle = Rolle.KOORDINATION if self.zufall.random() < 0.7 else Rolle.PATIN
        zeitpunkt = self.zeitpunkt(runde)
        absender = self.absender(feld, rolle)
        if lage.ampel is None:
            lage.ampel, lage.zuletzt = Ampel.GRUEN, zeitpunkt
            return GeplanteMeldung(
                zeitpunkt, runde.woche, absender, feld, projekt, Weg.BEFEHL, Ampel.GRUEN,
                text=ERSTE_MELDUNG,
            )  # fmt: skip
        weg = self.weg(runde, wendung=False)
        lage.zuletzt = zeitpunkt
        if weg is Weg.TIPP:
            return GeplanteMeldung(zeitpunkt, runde.woche, absender, feld, projekt, weg, lage.ampel)
        # Der Fortschritt wächst auf die nächste Wendung zu, ohne sie zu überholen; ohne eine
        # bleibt er, wo er ist (die Szene knüpft an den letzten Stand an).
        if (
            lage.fortschritt is not None
            and naechste_wendung is not None
            and naechste_wendung.fortschritt is not None
            and naechste_wendung.fortschritt > lage.fortschritt
        ):
            lage.fortschritt += self.zufall.randint(
                0, (naechste_wendung.fortschritt - lage.fortschritt) // 2
            )
        return GeplanteMeldung(
            zeitpunkt,
            runde.woche,
            absender,
            feld,
            projekt,
            weg,
            lage.ampel,
            fortschritt=lage.fortschritt,
            text=self.zufall.choice(ALLTAG),
            herausforderung=lage.herausforderung if lage.ampel in (Ampel.GELB, Ampel.ROT) else None,
        )


def plane_vorgeschichte(
    struktur: Struktur,
    *,
    ende: dt.datetime,
    zeitzone: ZoneInfo,
    abfrage_vorgabe: Zeitplan,
    startwert: int = STARTWERT,
) -> Vorgeschichte:
    """Die Vorgeschichte bis `ende` für `struktur` – noch ohne Datenbank, nur der Plan.

    `ValueError`, wenn Drehbuch und Struktur nicht zueinander passen (ein Projekt des Drehbuchs
    fehlt, ein Feld hat keine Pat*in).
    """
    projekte = {p.slug: p for p in struktur.projekte}
    if fehlend := sorted(set(DREHBUCH) - set(projekte)):
        raise ValueError(f"Projekte des Drehbuchs fehlen in der Struktur: {', '.join(fehlend)}")
    ohne_patin = [
        f.slug
        for f in struktur.themenfelder
        if not any(f.slug in p.patin for p in struktur.personen)
    ]
    if ohne_patin:
        raise ValueError(f"Themenfelder ohne Themenpat*in: {', '.join(ohne_patin)}")
    regie = _Regie(struktur, ende, zeitzone, startwert)
    meldungen = sorted(
        (m for feld in struktur.themenfelder for m in regie.feld(feld, abfrage_vorgabe)),
        key=lambda m: (m.zeitpunkt, m.projekt),
    )
    abgeschlossen = tuple(
        slug
        for slug, wendungen in DREHBUCH.items()
        if any(w.ampel is Ampel.ABGESCHLOSSEN for w in wendungen)
    )
    frist = next(
        f.ueberfaellig_nach_tagen
        for f in struktur.themenfelder
        if f.slug == projekte[VERSTUMMT].themenfeld
    )
    # Dieselbe Regel wie für Erinnerungen und Wochenbericht.
    zuletzt = max((m for m in meldungen if m.projekt == VERSTUMMT), key=lambda m: m.zeitpunkt)
    ueberfaellig = (
        (VERSTUMMT,)
        if ist_ueberfaellig(zuletzt.ampel, zuletzt.zeitpunkt, frist_tage=frist, stichtag=ende)
        else ()
    )
    return Vorgeschichte(regie.importzeit, tuple(meldungen), abgeschlossen, ueberfaellig)


# --- Einspielen --------------------------------------------------------------------------


class VorgeschichteFehler(Exception):
    """Eine geplante Meldung wurde nicht angenommen: Drehbuch und Struktur passen nicht."""


async def spiele_vorgeschichte_ein(
    vorgeschichte: Vorgeschichte,
    einstellungen: Einstellungen,
    sitzungen: Sitzungsfabrik,
    *,
    raum_ids: Mapping[str, str] | None = None,
) -> None:
    """Übernimmt die Strukturdatei der Einstellungen zum Importzeitpunkt und spielt jede
    Meldung so ein, wie der Bot sie aus dem Chat bekäme – eine Transaktion je Woche.

    `raum_ids` (Themenfeld-Slug → Raum-ID) nennt die Räume, aus denen die Meldungen kommen;
    ohne Eintrag steht dort die Raumadresse des Felds. Wird eine Meldung abgelehnt, endet es
    mit `VorgeschichteFehler`; die Wochen davor bleiben gespeichert.
    """
    await uebernimm_strukturdatei(einstellungen, sitzungen, zeitpunkt=vorgeschichte.importzeit)
    registratur = Registratur(alle_befehle())
    zeitzone = ZoneInfo(einstellungen.bot.zeitzone)
    betrieb = betrieb_aus(einstellungen)
    # Die Struktur steht nach dem Import fest; Meldungen ändern das Verzeichnis nicht.
    async with sitzungen() as sitzung:
        verzeichnis = await lade_verzeichnis(sitzung)
    raeume = {f.slug: f.raum_id or f.raum_adresse for f in verzeichnis.felder}
    raeume.update(raum_ids or {})
    for _woche, meldungen in itertools.groupby(vorgeschichte.meldungen, lambda m: m.woche):
        async with sitzungen.begin() as sitzung:
            for meldung in meldungen:
                raum_id = raeume.get(meldung.themenfeld)
                if raum_id is None:
                    raise VorgeschichteFehler(f"Themenfeld {meldung.themenfeld} hat keinen Raum")
                anfrage = Anfrage(
                    absender=meldung.absender,
                    raum_id=raum_id,
                    jetzt=meldung.zeitpunkt,
                    zeitzone=zeitzone,
                    praefix=einstellungen.bot.befehlspraefix,
                    sitzung=sitzung,
                    verzeichnis=verzeichnis,
                    registratur=registratur,
                    betrieb=betrieb,
                )
                await _melde(anfrage, meldung)


async def _melde(anfrage: Anfrage, meldung: GeplanteMeldung) -> None:
    """Eine Meldung auf ihrem Weg durch `befehle/`; nimmt der Bot sie nicht an, passt der Plan
    nicht zur Struktur."""
    antwort: Antwort | None
    try:
        match meldung.weg:
            case Weg.BEFEHL:
                antwort = await beantworte(
                    anfrage, "meldung", f"{meldung.projekt} {meldung.inhalt()}"
                )
            case Weg.ANTWORT:
                antwort = await melde_per_antwort(anfrage, (meldung.projekt,), meldung.inhalt())
            case Weg.TIPP:
                antwort = await melde_per_reaktion(anfrage, (meldung.projekt,), meldung.ampel)
    except Benutzerfehler as fehler:
        raise VorgeschichteFehler(
            f"Meldung zu {meldung.projekt} von {meldung.absender} abgelehnt: {fehler}"
        ) from None
    # Befehl und Antwort quittiert der Bot mit ✅, den Tipp mit einer Zeile; ohne das war es
    # für ihn keine Meldung.
    if antwort is None or (
        antwort.nachricht is None if meldung.weg is Weg.TIPP else antwort.reaktion is None
    ):
        raise VorgeschichteFehler(
            f"Meldung zu {meldung.projekt} von {meldung.absender} nicht als Meldung erkannt: "
            f"„{meldung.inhalt()}“"
        )
