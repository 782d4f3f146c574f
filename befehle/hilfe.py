"""`!hilfe [befehl]` – aus den Deklarationen erzeugt, gefiltert nach dem, was die Person darf."""

from __future__ import annotations

from typing import Any

from befehle.berechtigung import darf, meldefelder, wer_darf
from befehle.grundlagen import (
    Anfrage,
    Antwort,
    Befehl,
    Berechtigung,
    UnbekannterBefehl,
    befehl,
    ein_optionales_wort,
)
from befehle.nachricht import Code, Fett, Nachricht, Teil


@befehl(
    name="hilfe",
    aliase=("help",),
    syntax="[befehl]",
    kurz="Diese Übersicht; mit Befehlsname dessen Erklärung",
    hilfe=(
        "Ohne Angabe: alle Befehle, die Sie benutzen dürfen, nach Themen geordnet. Mit einem "
        "Befehlsnamen (auch Alias oder eindeutiger Anfang): Aufruf, Erklärung und Beispiele "
        "dieses Befehls und wer ihn benutzen darf."
    ),
    beispiele=("hilfe meldung", "hilfe"),
    abschnitt="Allgemein",
    argumente=ein_optionales_wort,
    nur_lesend=True,
)
async def hilfe(anfrage: Anfrage, name: str | None) -> Antwort:
    # `!hilfe !meldung` meint dasselbe wie `!hilfe meldung`.
    name = name.removeprefix(anfrage.praefix) if name else None
    if not name:
        return Antwort(uebersicht(anfrage))
    try:
        gesucht = anfrage.registratur.finde(name)
    except UnbekannterBefehl as fehler:
        raise fehler.mit_wegweiser(anfrage.praefix, vorschlag_vorweg="hilfe ") from None
    return Antwort(erklaerung(anfrage, gesucht))


def uebersicht(anfrage: Anfrage) -> Nachricht:
    """Alle erlaubten Befehle, je Abschnitt in der Reihenfolge der Registratur."""
    praefix = anfrage.praefix

    def erlaubt(berechtigung: Berechtigung) -> bool:
        return darf(anfrage.verzeichnis, anfrage.absender, berechtigung)

    abschnitte: dict[str, list[Befehl[Any]]] = {}
    for b in anfrage.registratur.sichtbar_fuer(erlaubt):
        abschnitte.setdefault(b.abschnitt, []).append(b)
    nachricht = Nachricht().absatz(Fett("Befehle des Klimabots"))
    for abschnitt, befehle in abschnitte.items():
        nachricht.absatz(Fett(abschnitt))
        nachricht.liste([Code(b.aufruf(praefix)), f" – {b.kurz}"] for b in befehle)
    verborgen = [b.berechtigung for b in anfrage.registratur.befehle if not erlaubt(b.berechtigung)]
    if verborgen:
        # Die am wenigsten eingeschränkte Stufe nennt alle, denen weitere Befehle offenstehen.
        offenste = min(verborgen, key=list(Berechtigung).index)
        nachricht.absatz(f"Weitere Befehle nur für {wer_darf(offenste)}.")
    nachricht.absatz(
        [
            "Mehr zu einem Befehl: ",
            Code(f"{praefix}hilfe <befehl>"),
            ", z. B. ",
            Code(f"{praefix}hilfe status"),
        ]
    )
    return nachricht


def erklaerung(anfrage: Anfrage, gesucht: Befehl[Any]) -> Nachricht:
    """Aufruf, Erklärung, Aliase, Beispiele und – wenn eingeschränkt – wer den Befehl darf."""
    praefix = anfrage.praefix
    nachricht = Nachricht().absatz(
        [Fett(f"{praefix}{gesucht.name}"), f" – {gesucht.kurz}"],
        ["Aufruf: ", Code(gesucht.aufruf(praefix))],
    )
    nachricht.absatz(gesucht.hilfe)
    if gesucht.aliase:
        zeile: list[Teil] = ["Auch: "]
        for alias in gesucht.aliase:
            zeile += [Code(f"{praefix}{alias}"), ", "]
        nachricht.absatz(zeile[:-1])
    if gesucht.beispiele:
        nachricht.absatz("Beispiele:" if len(gesucht.beispiele) > 1 else "Beispiel:")
        nachricht.liste(Code(f"{praefix}{beispiel}") for beispiel in gesucht.beispiele)
    if gesucht.berechtigung is not Berechtigung.ALLE:
        nachricht.absatz(
            f"Wer darf: {wer_darf(gesucht.berechtigung)}. {_eigene_rolle(anfrage, gesucht)}"
        )
    return nachricht


def _eigene_rolle(anfrage: Anfrage, gesucht: Befehl[Any]) -> str:
    if not darf(anfrage.verzeichnis, anfrage.absender, gesucht.berechtigung):
        return "Sie gehören nicht dazu – bei Fragen hilft die Stabsstelle Klima."
    if gesucht.berechtigung is Berechtigung.MELDENDE:
        felder = meldefelder(anfrage.verzeichnis, anfrage.absender)
        if len(felder) == len(anfrage.verzeichnis.felder):
            return "Sie dürfen das für alle Themenfelder."
        return "Sie dürfen das für: " + ", ".join(f.name for f in felder) + "."
    return "Sie dürfen das."
