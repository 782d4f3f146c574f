"""`!status [themenfeld|projekt]` – der Stand auf einen Blick."""

from __future__ import annotations

from befehle import schreibweise
from befehle.grundlagen import Anfrage, Antwort, befehl, ein_optionales_wort
from befehle.nachricht import Fett, Nachricht, Teil
from befehle.suche import finde_feld_oder_projekt, verstanden
from modelle.stand import projektstand
from modelle.verzeichnis import FeldEintrag, ProjektEintrag
from modelle.werte import Ampel


@befehl(
    name="status",
    aliase=("stand",),
    syntax="[themenfeld|projekt]",
    kurz="Stand aller Themenfelder, eines Themenfelds oder eines Projekts",
    hilfe=(
        "Ohne Angabe: alle Themenfelder auf einen Blick – im Raum eines Themenfelds dessen "
        "Projekte. Mit Themenfeld: eine Tabelle seiner Projekte mit Ampel, Fortschritt, "
        "Alter der letzten Meldung und Herausforderung. Mit Projekt: das Projekt im Detail. "
        "Auf die Antwort können Pat*innen direkt antworten, um eine Meldung abzugeben."
    ),
    beispiele=("status energie", "status", "status waermeplanung"),
    abschnitt="Auskunft",
    argumente=ein_optionales_wort,
    nur_lesend=True,
)
async def status(anfrage: Anfrage, ziel: str | None) -> Antwort:
    if ziel is None:
        feld = anfrage.verzeichnis.feld(anfrage.raum_feld_id) if anfrage.raum_feld_id else None
        if feld is not None:
            return await feldstatus(anfrage, feld)
        return await gesamtstatus(anfrage)
    fund = finde_feld_oder_projekt(anfrage.verzeichnis, ziel, anfrage.praefix)
    if isinstance(fund.eintrag, FeldEintrag):
        antwort = await feldstatus(anfrage, fund.eintrag)
    else:
        antwort = await projektstatus(anfrage, fund.eintrag)
    if fund.gedeutet and antwort.nachricht is not None:
        antwort.nachricht.absatz(verstanden(ziel, fund.eintrag))
    return antwort


async def gesamtstatus(anfrage: Anfrage) -> Antwort:
    felder = await anfrage.feld_uebersicht()
    nachricht = Nachricht().absatz(Fett("Stand aller Themenfelder"))
    zeilen: list[list[Teil]] = []
    textzeilen: list[list[Teil]] = []
    for feld in felder:
        zaehlung = " ".join(f"{a.emoji} {feld.ampeln[a]}" for a in Ampel)
        ohne = f"⚪ {feld.ohne_meldung}"
        still = schreibweise.alter(feld.aelteste_meldung, anfrage.jetzt, anfrage.zeitzone)
        zeilen.append([feld.themenfeld_name, f"{zaehlung} {ohne}", still])
        textzeilen.append(
            [Fett(feld.themenfeld_name), f": {zaehlung} {ohne} · älteste Meldung {still}"]
        )
    nachricht.tabelle(["Themenfeld", "Ampeln", "Älteste Meldung"], zeilen, textzeilen)
    nachricht.absatz(f"Details: {anfrage.praefix}status <themenfeld>  ·  ⚪ = noch ohne Meldung")
    return Antwort(nachricht)


async def feldstatus(anfrage: Anfrage, feld: FeldEintrag) -> Antwort:
    staende = await anfrage.letzte_meldungen(feld.id)
    kopf: list[Teil] = [Fett(f"Themenfeld {feld.name}"), f" – {len(staende)} Projekte"]
    if not staende:
        return Antwort(
            Nachricht().absatz(kopf).absatz("Dieses Themenfeld hat keine aktiven Projekte.")
        )

    def baue(breite: schreibweise.Zellbreite) -> Nachricht:
        zeilen: list[list[Teil | list[Teil]]] = []
        textzeilen: list[list[Teil]] = []
        for stand in staende:
            wann = schreibweise.meldungsalter(stand, anfrage.jetzt, anfrage.zeitzone)
            titel = breite.titel_von(stand.projekt_titel)
            herausforderung = breite.text_von(stand.herausforderungen or "")
            zeilen.append(
                [
                    [Fett(titel), " (", stand.projekt_slug, ")"],
                    schreibweise.ampel(stand.ampel),
                    schreibweise.fortschritt(stand.fortschritt),
                    wann,
                    herausforderung,
                ]
            )
            textzeile: list[Teil] = [
                f"{schreibweise.ampel(stand.ampel)} ",
                Fett(titel),
                f" ({stand.projekt_slug}) · {schreibweise.fortschritt(stand.fortschritt)} · {wann}",
            ]
            if herausforderung:
                textzeile.append(f" · {herausforderung}")
            textzeilen.append(textzeile)
        nachricht = Nachricht().absatz(kopf)
        nachricht.tabelle(
            ["Projekt", "Ampel", "Fortschritt", "Letzte Meldung", "Herausforderung"],
            zeilen,
            textzeilen,
        )
        return nachricht.absatz(
            "Melden: auf diese Nachricht antworten, mit Projektname vorweg, "
            f"z. B. „{staende[0].projekt_slug} gelb, 40 %, Ausschreibung läuft“."
        )

    return Antwort(schreibweise.passend(baue), projekte=tuple(s.projekt_slug for s in staende))


async def projektstatus(anfrage: Anfrage, projekt: ProjektEintrag) -> Antwort:
    stand = await projektstand(anfrage.sitzung, projekt.id)
    assert stand is not None  # das Verzeichnis kennt nur bestehende Projekte
    nachricht = Nachricht().absatz(
        [Fett(stand.projekt_titel), f" ({stand.projekt_slug}) – Themenfeld {stand.themenfeld_name}"]
    )
    if stand.ampel is None or stand.zeitpunkt is None:
        nachricht.absatz("Zu diesem Projekt gibt es noch keine Meldung.")
    else:
        wann = schreibweise.meldungsalter(stand, anfrage.jetzt, anfrage.zeitzone)
        von = f" von {stand.autor}" if stand.autor else ""
        zeilen: list[Teil | list[Teil]] = [
            [Fett("Ampel:"), " ", schreibweise.ampel(stand.ampel)],
            [Fett("Fortschritt:"), " ", schreibweise.fortschritt(stand.fortschritt)],
            [Fett("Letzte Meldung:"), " ", f"{wann}{von}"],
        ]
        if stand.text:
            zeilen.append([Fett("Meldung:"), " ", stand.text])
        if stand.herausforderungen:
            zeilen.append([Fett("Herausforderungen:"), " ", stand.herausforderungen])
        nachricht.absatz(*zeilen)
    nachricht.absatz(
        "Melden: auf diese Nachricht antworten, z. B. „gelb, 40 %, Ausschreibung läuft“, "
        "oder mit 🟢 🟡 🔴 ✅ reagieren."
    )
    return Antwort(nachricht, projekte=(stand.projekt_slug,))
