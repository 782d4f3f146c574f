"""Wem der Bot seine Raumschlüssel gibt: den Geräten der Personen der Struktur.

Die Regel, wie sie gebaut ist:

- Raumschlüssel bekommen nur Geräte von Personen, die in der Struktur eine Rolle haben
  (Themenpat*in, Klimakoordinator*in, Stabsstelle), und der in `matrix.raumschluessel_auch_fuer`
  genannten Konten – und auch die nur, solange sie Mitglied des Raums sind. Wer sonst im Raum
  sitzt, liest die Nachrichten des Bots nicht.
- Ohne strengen Modus gilt jedes Gerät einer solchen Person (Vertrauen beim ersten Sehen). Im
  strengen Modus (`matrix.nur_gegengezeichnete_geraete`) nur Geräte, die die Person selbst mit
  ihrem Cross-Signing bestätigt hat: signiert von ihrem Self-Signing-Schlüssel, der von ihrem
  Hauptschlüssel signiert ist.
- Der Hauptschlüssel einer Person wird beim ersten Sehen gemerkt; ändert er sich (etwa weil
  sie ihre Sicherheitseinstellungen zurückgesetzt hat), steht das im Protokoll und gilt der neue.
- Bekommt eine Person ein neues Gerät, steht es im Protokoll und, wenn eingestellt
  (`matrix.neue_geraete_melden`), im Raum der Stabsstelle.
- Ändert sich der Kreis (jemand verlässt die Struktur, ein Gerät verliert die Bestätigung, ein
  neues kommt hinzu), beginnt der Bot im Raum einen neuen Raumschlüssel: Wer herausfällt, liest
  ab dann nichts mehr.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import vodozemac
from nio import Api

from befehle.berechtigung import personen_der_struktur
from befehle.grundlagen import Antwort
from befehle.nachricht import Code, Fett, Nachricht
from bot.ausgang import reihe_antwort_ein
from modelle.datenbank import Sitzungsfabrik
from modelle.verzeichnis import VerzeichnisSpeicher
from modelle.zustand import lies_zustand, setze_zustand

log = logging.getLogger(__name__)

HAUPTSCHLUESSEL = "kreuzsignatur.hauptschluessel"


@dataclass(frozen=True, slots=True)
class Vertrauensregel:
    """Was die Konfiguration über das Vertrauen sagt (`[matrix]`)."""

    auch_fuer: frozenset[str] = frozenset()
    nur_gegengezeichnet: bool = False
    neue_geraete_melden: bool = False


@dataclass(frozen=True, slots=True)
class Kreuzsignatur:
    """Was eine Person mit ihrem Cross-Signing bestätigt hat."""

    hauptschluessel: str | None
    geraete: frozenset[str] = frozenset()


def _signiert(objekt: Mapping[str, Any], person: str, schluessel: str) -> bool:
    """Trägt `objekt` eine gültige Signatur von `person` mit dem Ed25519-Schlüssel `schluessel`?"""
    signaturen = objekt.get("signatures")
    if not isinstance(signaturen, dict) or not isinstance(signaturen.get(person), dict):
        return False
    signatur = signaturen[person].get(f"ed25519:{schluessel}")
    if not isinstance(signatur, str):
        return False
    unterschrieben = {k: v for k, v in objekt.items() if k not in ("signatures", "unsigned")}
    try:
        vodozemac.Ed25519PublicKey.from_base64(schluessel).verify_signature(
            Api.to_canonical_json(unterschrieben).encode(),
            vodozemac.Ed25519Signature.from_base64(signatur),
        )
    except ValueError:  # falsche Signatur, kaputter Schlüssel (vodozemacs Ausnahmen erben davon)
        return False
    return True


def _einziger_schluessel(objekt: object, person: str, zweck: str) -> str | None:
    if not isinstance(objekt, dict) or objekt.get("user_id") != person:
        return None
    if zweck not in (objekt.get("usage") or []):
        return None
    schluessel = objekt.get("keys")
    if not isinstance(schluessel, dict) or len(schluessel) != 1:
        return None
    kennung, wert = next(iter(schluessel.items()))
    if not isinstance(wert, str) or kennung != f"ed25519:{wert}":
        return None
    return wert


def lies_kreuzsignatur(abfrage: Mapping[str, Any], person: str) -> Kreuzsignatur:
    """Aus der Antwort von `/keys/query`: Hauptschlüssel und bestätigte Geräte einer Person.

    Ein Gerät gilt als bestätigt, wenn es vom Self-Signing-Schlüssel der Person signiert ist
    und dieser von ihrem Hauptschlüssel. Was der Server sonst behauptet, zählt nicht.
    """
    haupt = _einziger_schluessel(abfrage.get("master_keys", {}).get(person), person, "master")
    if haupt is None:
        return Kreuzsignatur(None)
    # Der Hauptschlüssel ist der Anker: er wird beim ersten Sehen gemerkt (siehe
    # `Schluesselvertrauen.kreuzsignaturen_gelesen`), an ihm hängt alles Weitere.
    ssk_objekt = abfrage.get("self_signing_keys", {}).get(person)
    ssk = _einziger_schluessel(ssk_objekt, person, "self_signing")
    if ssk is None or not isinstance(ssk_objekt, dict) or not _signiert(ssk_objekt, person, haupt):
        return Kreuzsignatur(haupt)
    geraete = abfrage.get("device_keys", {}).get(person, {})
    bestaetigt = frozenset(
        geraet_id
        for geraet_id, geraet in (geraete.items() if isinstance(geraete, dict) else ())
        if isinstance(geraet, dict)
        and geraet.get("device_id") == geraet_id
        and geraet.get("user_id") == person
        and _signiert(geraet, person, ssk)
    )
    return Kreuzsignatur(haupt, bestaetigt)


@dataclass
class Schluesselvertrauen:
    """Kennt den Kreis der Personen, deren Geräte Raumschlüssel bekommen, und meldet Neues.

    `sitzungen` ist die Datenbank des Bots (Struktur, gemerkte Hauptschlüssel, Ausgangskorb);
    `nach_commit` weckt den Zusteller, wenn eine Meldung an die Stabsstelle eingereiht wurde.
    """

    sitzungen: Sitzungsfabrik
    regel: Vertrauensregel = field(default_factory=Vertrauensregel)
    nach_commit: Callable[[], None] = lambda: None
    _verzeichnis: VerzeichnisSpeicher = field(default_factory=VerzeichnisSpeicher)
    _kreuzsignaturen: dict[str, Kreuzsignatur] = field(default_factory=dict)

    async def personen(self) -> frozenset[str]:
        """Die Matrix-IDs, deren Geräte Raumschlüssel bekommen dürfen."""
        async with self.sitzungen() as sitzung:
            verzeichnis = await self._verzeichnis.hole(sitzung)
        return personen_der_struktur(verzeichnis) | self.regel.auch_fuer

    @property
    def nur_gegengezeichnet(self) -> bool:
        return self.regel.nur_gegengezeichnet

    def bestaetigte_geraete(self, person: str) -> frozenset[str] | None:
        """Im strengen Modus: die bestätigten Geräte der Person; `None`, wenn noch unbekannt."""
        eintrag = self._kreuzsignaturen.get(person)
        return None if eintrag is None else eintrag.geraete

    async def kreuzsignaturen_gelesen(
        self, abfrage: Mapping[str, Any], personen: Iterable[str]
    ) -> None:
        """Übernimmt die Cross-Signing-Angaben einer `/keys/query`-Antwort.

        Ein geänderter Hauptschlüssel steht im Protokoll (und bei der Stabsstelle, wenn
        eingestellt); gemerkt wird er in der Datenbank, damit die Änderung auch über einen
        Neustart hinweg auffällt.
        """
        gelesen = {p: lies_kreuzsignatur(abfrage, p) for p in personen}
        self._kreuzsignaturen.update(gelesen)
        async with self.sitzungen.begin() as sitzung:
            gespeichert = await lies_zustand(sitzung, HAUPTSCHLUESSEL)
            gemerkt: dict[str, str] = json.loads(gespeichert) if gespeichert is not None else {}
            geaendert = False
            for person, kreuz in gelesen.items():
                if kreuz.hauptschluessel is None or gemerkt.get(person) == kreuz.hauptschluessel:
                    continue
                if person in gemerkt:
                    log.warning(
                        "Hauptschlüssel (Cross-Signing) von %s hat sich geändert: %s → %s",
                        person,
                        gemerkt[person],
                        kreuz.hauptschluessel,
                    )
                    await self._melde(
                        person,
                        "hat ihre/seine Sicherheitsschlüssel (Cross-Signing) neu eingerichtet. "
                        "Bestätigt sind ab jetzt die Geräte, die mit dem neuen Schlüssel "
                        "bestätigt werden.",
                    )
                gemerkt[person] = kreuz.hauptschluessel
                geaendert = True
            if geaendert:
                await setze_zustand(sitzung, HAUPTSCHLUESSEL, json.dumps(gemerkt, sort_keys=True))

    async def neues_geraet(self, person: str, geraet_id: str, name: str | None) -> None:
        """Eine Person der Struktur hat ein neues (oder geändertes) Gerät."""
        if self.nur_gegengezeichnet:
            folge = (
                "Es bekommt Raumschlüssel, sobald die Person es selbst bestätigt (Cross-Signing)."
            )
        else:
            folge = "Es bekommt ab jetzt die Raumschlüssel."
        log.info("Gerät %s von %s neu oder geändert: %s", geraet_id, person, folge)
        await self._melde(
            person,
            f"hat ein neues Gerät angemeldet: „{name or 'ohne Namen'}“ ({geraet_id}). {folge} "
            "War das nicht sie oder er selbst, bitte das Gerät abmelden lassen.",
        )

    async def _melde(self, person: str, text: str) -> None:
        if not self.regel.neue_geraete_melden:
            return
        async with self.sitzungen.begin() as sitzung:
            verzeichnis = await self._verzeichnis.hole(sitzung)
            raum = verzeichnis.stabsstelle_raum_id
            if raum is None:
                log.warning("Neues Gerät nicht gemeldet: kein Raum der Stabsstelle bekannt")
                return
            eintrag = verzeichnis.personen.get(person)
            name = eintrag.anzeigename if eintrag is not None else person
            # Eine Auskunft für die Stabsstelle, keine Bitte an die Person: der Name steht
            # als Text, nicht als Erwähnung – niemand wird angepingt.
            nachricht = Nachricht().absatz(["🔑 ", Fett(name), " (", Code(person), f") {text}"])
            reihe_antwort_ein(sitzung, raum, Antwort(nachricht))
        self.nach_commit()
