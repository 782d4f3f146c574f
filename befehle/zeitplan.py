"""`!zeitplan [themenfeld [zeitplan|vorgabe]]` – wann Abfragen, Bericht und Erinnerungen kommen.

Ansehen dürfen alle; ändern darf nur die Stabsstelle. Die nächsten Läufe rechnet
`modelle.termine` mit der Uhr der Anfrage, also nach denselben Regeln, nach denen der
Planer sendet: Abfragen rücken von Wochenenden und NRW-Feiertagen auf den nächsten
Arbeitstag, Erinnerungen gibt es nur an Arbeitstagen, der Wochenbericht kommt immer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from befehle import schreibweise
from befehle.berechtigung import ist_stabsstelle, pruefe_befehl
from befehle.grundlagen import Anfrage, Antwort, Argumentfehler, Berechtigung, befehl
from befehle.nachricht import Code, Fett, Nachricht, Teil, gekuerzt
from befehle.suche import finde_feld, verstanden
from modelle.strukturimport import setze_abfrage
from modelle.termine import (
    feiertag,
    ist_arbeitstag,
    naechste_periode,
    naechster_arbeitstag,
    naechster_termin,
    ortszeit,
)
from modelle.verzeichnis import FeldEintrag
from modelle.werte import normalisiere
from modelle.zeitplan import Zeitplan, ZeitplanFehler

VORGABE = "vorgabe"
_WOCHENTAGE = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")
# Ein Erinnerungsplan, der nie einen Arbeitstag trifft („sa 10:00“), soll nicht endlos suchen.
_HOECHSTENS_UEBERSPRUNGEN = 60


@dataclass(frozen=True, slots=True)
class ZeitplanArgumente:
    feld: str | None = None
    # Roh, erst der Handler prüft ihn: wer nicht ändern darf, soll die Absage bekommen,
    # nicht eine Belehrung über die Schreibweise.
    neuer_zeitplan: str | None = None


def lies_argumente(text: str) -> ZeitplanArgumente:
    teile = text.split(maxsplit=1)
    if not teile:
        return ZeitplanArgumente()
    return ZeitplanArgumente(teile[0], teile[1] if len(teile) > 1 else None)


@befehl(
    name="zeitplan",
    aliase=("termine",),
    syntax="[themenfeld [zeitplan|vorgabe]]",
    kurz="Wann Abfragen, Wochenbericht und Erinnerungen kommen",
    hilfe=(
        "Ohne Angabe (auch im Raum eines Themenfelds): die Abfrage-Zeitpläne aller "
        "Themenfelder mit dem nächsten Termin, dazu Wochenbericht, Erinnerungen und "
        "Nachholfrist. Mit Themenfeld: nur dessen Abfrage. Fällt eine Abfrage auf ein "
        "Wochenende oder einen Feiertag in NRW, kommt sie am nächsten Arbeitstag. "
        "Die Stabsstelle Klima kann den Zeitplan eines Themenfelds ändern – „mo 09:00“, "
        "„mo,do 09:00“, „mo-fr 10:00“, „täglich 10:00“ oder Cron „30 8 * * 1“; „vorgabe“ "
        "setzt ihn auf die Vorgabe der Konfiguration zurück. Jede Änderung steht im "
        "Änderungsprotokoll; damit sie bleibt, gehört sie auch in die Strukturdatei."
    ),
    beispiele=("zeitplan energie mo,do 09:00", "zeitplan", "zeitplan energie vorgabe"),
    abschnitt="Auskunft",
    argumente=lies_argumente,
)
async def zeitplan(anfrage: Anfrage, argumente: ZeitplanArgumente) -> Antwort:
    # Ohne Angabe immer die ganze Übersicht, auch im Raum eines Themenfelds: sie ist kurz,
    # und Wochenbericht und Erinnerungen betreffen jedes Feld.
    if argumente.feld is None:
        return Antwort(uebersicht(anfrage))
    if argumente.neuer_zeitplan is not None:
        # Zuerst die Berechtigung: wer nicht ändern darf, braucht keine Hinweise zu Namen.
        pruefe_befehl(anfrage.verzeichnis, anfrage.absender, Berechtigung.STABSSTELLE)
    fund = finde_feld(anfrage.verzeichnis, argumente.feld, anfrage.praefix)
    if argumente.neuer_zeitplan is None:
        nachricht = feldansicht(anfrage, fund.eintrag)
    else:
        nachricht = await aendere(anfrage, fund.eintrag, argumente.neuer_zeitplan)
    if fund.gedeutet:
        nachricht.absatz(verstanden(argumente.feld, fund.eintrag))
    return Antwort(nachricht)


# --- Ansehen ------------------------------------------------------------------------------


def uebersicht(anfrage: Anfrage) -> Nachricht:
    zone = anfrage.zeitzone
    betrieb = anfrage.betrieb
    nachricht = Nachricht().absatz(Fett("Zeitpläne"))
    zeilen: list[list[Teil | list[Teil]]] = []
    textzeilen: list[list[Teil]] = []
    for feld in anfrage.verzeichnis.felder:
        plan, eigen = abfrageplan(feld, betrieb.abfrage)
        naechste = naechste_abfrage(anfrage, feld, plan)
        name: list[Teil] = [Fett(feld.name), f" ({feld.slug})"]
        zeilen.append([name, plantext(plan, eigen), naechste])
        textzeilen.append([*name, f": {plantext(plan, eigen)} → {naechste}"])
    nachricht.tabelle(["Themenfeld", "Abfrage", "Nächste Abfrage"], zeilen, textzeilen)

    bericht = naechster_termin(betrieb.wochenbericht, anfrage.jetzt, zone)
    nachricht.absatz(
        [Fett("Wochenbericht:"), f" {betrieb.wochenbericht} → {wochenbericht_text(bericht, zone)}"],
        [
            Fett("Erinnerungen:"),
            f" Prüfung {betrieb.erinnerung}, nur an Arbeitstagen → "
            f"{termin_text(naechste_pruefung(betrieb.erinnerung, anfrage.jetzt, zone), zone)}",
        ],
        [
            Fett("Nachholfrist:"),
            f" {dauer(betrieb.nachholfrist)} – was in einer Ausfallzeit fällig wurde, kommt "
            "so lange noch verspätet, danach entfällt es und der Wochenbericht nennt es.",
        ],
    )
    nachricht.absatz(
        "Fällt eine Abfrage auf ein Wochenende oder einen Feiertag in NRW, kommt sie am "
        f"nächsten Arbeitstag zur selben Uhrzeit. Zeiten in {zone.key}."
    )
    if ist_stabsstelle(anfrage.verzeichnis, anfrage.absender):
        p = anfrage.praefix
        nachricht.absatz(
            [
                "Ändern: ",
                Code(f"{p}zeitplan <themenfeld> <zeitplan>"),
                ", z. B. ",
                Code(f"{p}zeitplan energie mo,do 09:00"),
                "; zurück zur Vorgabe: ",
                Code(f"{p}zeitplan energie {VORGABE}"),
            ]
        )
    return nachricht


def feldansicht(anfrage: Anfrage, feld: FeldEintrag) -> Nachricht:
    plan, eigen = abfrageplan(feld, anfrage.betrieb.abfrage)
    return Nachricht().absatz(
        [Fett(f"Themenfeld {feld.name}"), f" ({feld.slug})"],
        [Fett("Abfrage:"), f" {plantext(plan, eigen)}"],
        [Fett("Nächste Abfrage:"), f" {naechste_abfrage(anfrage, feld, plan)}"],
    )


def abfrageplan(feld: FeldEintrag, vorgabe: Zeitplan) -> tuple[Zeitplan, bool]:
    """Der Zeitplan, nach dem der Planer fragt, und ob es der eigene des Felds ist."""
    if not feld.abfrage:
        return vorgabe, False
    try:
        return Zeitplan.aus_text(feld.abfrage), True
    except ZeitplanFehler:
        # Wie `modelle.versand`: ein kaputter Eintrag fragt nach der Vorgabe statt gar nicht.
        return vorgabe, False


def plantext(plan: Zeitplan, eigen: bool) -> str:
    return str(plan) if eigen else f"Vorgabe: {plan}"


def naechste_abfrage(anfrage: Anfrage, feld: FeldEintrag, plan: Zeitplan) -> str:
    if not anfrage.verzeichnis.projekte_von(feld.id):
        return "keine – das Themenfeld hat keine aktiven Projekte"
    periode = naechste_periode(plan, anfrage.jetzt, anfrage.zeitzone)
    if periode is None:
        return termin_text(None, anfrage.zeitzone)
    text = termin_text(periode.faellig_am, anfrage.zeitzone)
    if periode.verschoben:
        regulaer = periode.termin.astimezone(anfrage.zeitzone)
        grund = feiertag(regulaer.date()) or "Wochenende"
        text += f" (verschoben von {_WOCHENTAGE[regulaer.weekday()]} {regulaer:%d.%m.}, {grund})"
    return text


def naechste_pruefung(plan: Zeitplan, jetzt: dt.datetime, zone: ZoneInfo) -> dt.datetime | None:
    """Der nächste Termin der Erinnerungsprüfung, der auf einen Arbeitstag fällt.

    Anders als Abfragen rücken Erinnerungen nicht: an Wochenenden und Feiertagen fällt
    die Prüfung aus (`modelle.versand.faellige_erinnerungen`).
    """
    ab = jetzt
    for _ in range(_HOECHSTENS_UEBERSPRUNGEN):
        termin = naechster_termin(plan, ab, zone)
        if termin is None:
            return None
        tag = termin.astimezone(zone).date()
        if ist_arbeitstag(tag):
            return termin
        # Weitersuchen ab kurz vor Mitternacht vor dem nächsten Arbeitstag.
        ab = ortszeit(naechster_arbeitstag(tag), dt.time(0), zone) - dt.timedelta(microseconds=1)
    return None


def wochenbericht_text(termin: dt.datetime | None, zone: ZoneInfo) -> str:
    text = termin_text(termin, zone)
    if termin is not None and (name := feiertag(termin.astimezone(zone).date())):
        text += f" ({name} – er kommt trotzdem)"
    return text


def termin_text(termin: dt.datetime | None, zone: ZoneInfo) -> str:
    """„Di 07.04.2026, 09:00 Uhr“ in Ortszeit."""
    if termin is None:
        return "kein Termin in den nächsten vier Jahren"
    return (
        f"{_WOCHENTAGE[termin.astimezone(zone).weekday()]} {schreibweise.zeitpunkt(termin, zone)}"
    )


def dauer(spanne: dt.timedelta) -> str:
    sekunden = int(spanne.total_seconds())
    if sekunden % 86400 == 0:
        return schreibweise.anzahl(sekunden // 86400, "Tag", "Tage")
    if sekunden % 3600 == 0:
        return schreibweise.anzahl(sekunden // 3600, "Stunde", "Stunden")
    return schreibweise.anzahl(sekunden // 60, "Minute", "Minuten")


# --- Ändern -------------------------------------------------------------------------------


async def aendere(anfrage: Anfrage, feld: FeldEintrag, eingabe: str) -> Nachricht:
    """Setzt den Abfrage-Zeitplan des Felds (Stabsstelle ist schon geprüft)."""
    neu: str | None = None
    if normalisiere(eingabe) != VORGABE:
        try:
            plan = Zeitplan.aus_text(eingabe)
        except ZeitplanFehler as fehler:
            raise Argumentfehler(
                f"Der Zeitplan „{gekuerzt(fehler.text)}“ ist ungültig: {fehler.grund}."
            ) from None
        if naechster_termin(plan, anfrage.jetzt, anfrage.zeitzone) is None:
            raise Argumentfehler(
                f"Nach dem Zeitplan „{plan}“ gäbe es in den nächsten vier Jahren keine Abfrage."
            )
        # Kanonisch gespeichert, wie der Import es tut: so vergleichen sich Chat und Datei.
        neu = str(plan)

    alt = await setze_abfrage(
        anfrage.sitzung, feld.id, neu, wer=anfrage.absender, zeitpunkt=anfrage.jetzt
    )
    geaendert = dataclasses.replace(feld, abfrage=neu)
    plan, eigen = abfrageplan(geaendert, anfrage.betrieb.abfrage)
    naechste: list[Teil] = [
        Fett("Nächste Abfrage:"),
        f" {naechste_abfrage(anfrage, geaendert, plan)}",
    ]
    if alt == neu:
        schon = (
            f"der Zeitplan von {feld.name} ist schon „{plan}“"
            if eigen
            else f"{feld.name} folgt schon der Vorgabe ({plan})"
        )
        return Nachricht().absatz(f"Nichts geändert: {schon}.", naechste)

    vorher = abfrageplan(dataclasses.replace(feld, abfrage=alt), anfrage.betrieb.abfrage)
    nachricht = Nachricht().absatz(
        [
            Fett(f"Zeitplan der Abfrage für {feld.name} geändert:"),
            f" {plantext(*vorher)} → {plantext(plan, eigen)}",
        ],
        naechste,
        "Im Änderungsprotokoll vermerkt.",
    )
    # Der Import gleicht die Datenbank mit der Datei ab und schriebe den alten Wert zurück.
    bisher = f"„{alt}“" if alt else "die Vorgabe"
    wo = f"Bitte auch in der Strukturdatei beim Themenfeld „{feld.slug}“ "
    was: list[Teil] = (
        [wo, Code(f'abfrage = "{neu}"'), " eintragen"]
        if neu
        else [wo, "die Zeile „abfrage“ streichen"]
    )
    nachricht.absatz(
        [*was, f", sonst gilt nach dem nächsten Import wieder, was dort steht (bisher {bisher})."]
    )
    return nachricht
