"""Einen geparsten Befehl beantworten: finden, Berechtigung prüfen, Argumente lesen, ausführen.

Erwartete Probleme (`Benutzerfehler`) werden hier zur Antwort; alles andere geht an die
Fehlergrenze in `bot/`, die es protokolliert und „Interner Fehler (Ref. …)“ antwortet.
"""

from __future__ import annotations

from befehle.berechtigung import pruefe_befehl
from befehle.grundlagen import Anfrage, Antwort, Argumentfehler, Benutzerfehler, UnbekannterBefehl
from befehle.nachricht import Code, Fett, Nachricht, gekuerzt


async def beantworte(anfrage: Anfrage, name: str, argumenttext: str) -> Antwort:
    praefix = anfrage.praefix
    try:
        befehl = anfrage.registratur.finde(name)
    except UnbekannterBefehl as fehler:
        nachricht = Nachricht()
        zeile: list[str | Code | Fett] = [f"Den Befehl „{gekuerzt(name)}“ kenne ich nicht."]
        if fehler.vorschlaege:
            vorschlag = anfrage.registratur.finde(fehler.vorschlaege[0]).name
            zeile += [" Meinten Sie ", Code(f"{praefix}{vorschlag}"), "?"]
        zeile += [" Alle Befehle: ", Code(f"{praefix}hilfe")]
        return Antwort(nachricht.absatz(zeile))
    except Benutzerfehler as fehler:
        return Antwort(fehler.nachricht)
    try:
        pruefe_befehl(anfrage.verzeichnis, anfrage.absender, befehl.berechtigung)
        try:
            argumente = befehl.lese_argumente(argumenttext)
        except Argumentfehler as fehler:
            return Antwort(befehl.verwendung(praefix, fehler.nachricht.text))
        return await befehl.ausfuehren(anfrage, argumente)
    except Argumentfehler as fehler:
        # Auch Handler dürfen die Verwendung zeigen, wenn erst die Daten verraten, was falsch war.
        return Antwort(befehl.verwendung(praefix, fehler.nachricht.text))
    except Benutzerfehler as fehler:
        return fehler.antwort()
