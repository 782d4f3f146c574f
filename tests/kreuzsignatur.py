"""Cross-Signing für Tests: Haupt- und Self-Signing-Schlüssel, Geräte signiert wie von Element.

Ed25519-Schlüssel und Signaturen kommen aus vodozemac (das matrix-nio mitbringt): ein
`vodozemac.Account` ist hier nur ein Schlüsselpaar, das signieren kann.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import vodozemac
from nio import Api, AsyncClient


class Schluessel:
    """Ein Ed25519-Schlüsselpaar."""

    def __init__(self) -> None:
        self._paar = vodozemac.Account()

    @property
    def oeffentlich(self) -> str:
        return str(self._paar.ed25519_key.to_base64())

    def signiere(self, person: str, objekt: dict[str, Any]) -> dict[str, Any]:
        """Das Objekt mit einer Signatur dieses Schlüssels (wie Matrix signiert)."""
        unterschrieben = {k: v for k, v in objekt.items() if k not in ("signatures", "unsigned")}
        signatur = self._paar.sign(Api.to_canonical_json(unterschrieben).encode()).to_base64()
        neu = copy.deepcopy(objekt)
        neu.setdefault("signatures", {}).setdefault(person, {})[f"ed25519:{self.oeffentlich}"] = (
            signatur
        )
        return neu


def schluesselobjekt(person: str, zweck: str, schluessel: Schluessel) -> dict[str, Any]:
    return {
        "user_id": person,
        "usage": [zweck],
        "keys": {f"ed25519:{schluessel.oeffentlich}": schluessel.oeffentlich},
    }


class Kreuzsignatur:
    """Haupt- und Self-Signing-Schlüssel einer Person."""

    def __init__(self, person: str) -> None:
        self.person = person
        self.haupt = Schluessel()
        self.geraete = Schluessel()  # der Self-Signing-Schlüssel: signiert die Geräte

    @property
    def hauptschluessel(self) -> dict[str, Any]:
        return schluesselobjekt(self.person, "master", self.haupt)

    @property
    def self_signing(self) -> dict[str, Any]:
        return self.haupt.signiere(
            self.person, schluesselobjekt(self.person, "self_signing", self.geraete)
        )

    def bestaetige(self, geraet: dict[str, Any]) -> dict[str, Any]:
        return self.geraete.signiere(self.person, geraet)


async def _post(client: AsyncClient, pfad: str, inhalt: dict[str, Any]) -> tuple[int, Any]:
    antwort = await client.send(
        "POST",
        f"/_matrix/client/v3/{pfad}",
        json.dumps(inhalt),
        headers={"Authorization": f"Bearer {client.access_token}"},
    )
    return antwort.status, await antwort.json()


async def richte_ein(
    client: AsyncClient, passwort: str, kreuz: Kreuzsignatur, geraete: list[str]
) -> None:
    """Lädt die Schlüssel der Person hoch und bestätigt die genannten Geräte – wie Element nach
    „Sicherheit einrichten“ und „Sitzung verifizieren“."""
    person = kreuz.person
    schluessel = {"master_key": kreuz.hauptschluessel, "self_signing_key": kreuz.self_signing}
    status, antwort = await _post(client, "keys/device_signing/upload", schluessel)
    if status == 401:  # Synapse will das Passwort sehen (User-Interactive Auth)
        anmeldung = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": person},
            "password": passwort,
            "session": antwort.get("session"),
        }
        status, antwort = await _post(
            client, "keys/device_signing/upload", {**schluessel, "auth": anmeldung}
        )
    assert status == 200, antwort
    status, abfrage = await _post(client, "keys/query", {"device_keys": {person: geraete}})
    assert status == 200, abfrage
    bestaetigt = {g: kreuz.bestaetige(abfrage["device_keys"][person][g]) for g in geraete}
    status, antwort = await _post(client, "keys/signatures/upload", {person: bestaetigt})
    assert status == 200, antwort
    assert not antwort.get("failures"), antwort
