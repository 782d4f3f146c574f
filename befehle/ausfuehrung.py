"""Einen Befehlsaufruf beantworten: finden, Berechtigung prüfen, Argumente lesen, ausführen.

Erwartete Probleme bleiben `Benutzerfehler`; hier kommt nur dazu, was erst der Befehl weiß
(Verwendung und Beispiel, „Meinten Sie …?“). Zur Antwort werden sie – wie alles andere, dann
als „Interner Fehler (Ref. …)“ – an der Fehlergrenze in `bot/verarbeitung.py`.
"""

from __future__ import annotations

from befehle.berechtigung import pruefe_befehl
from befehle.grundlagen import Anfrage, Antwort, Argumentfehler, UnbekannterBefehl


async def beantworte(anfrage: Anfrage, name: str, argumenttext: str) -> Antwort:
    praefix = anfrage.praefix
    try:
        befehl = anfrage.registratur.finde(name)
    except UnbekannterBefehl as fehler:
        raise fehler.mit_wegweiser(praefix) from None
    pruefe_befehl(anfrage.verzeichnis, anfrage.absender, befehl.berechtigung)
    try:
        argumente = befehl.lese_argumente(argumenttext)
        return await befehl.ausfuehren(anfrage, argumente)
    except Argumentfehler as fehler:
        # Auch Handler dürfen die Verwendung zeigen, wenn erst die Daten verraten, was falsch war.
        raise Argumentfehler(befehl.verwendung(praefix, fehler.nachricht.text)) from None
