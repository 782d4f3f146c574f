"""Integrationstests gegen einen echten Synapse auf 127.0.0.1."""

from __future__ import annotations

from typing import Protocol

from demo.homeserver import Zugang


class NeuePerson(Protocol):
    """Registriert bei jedem Aufruf ein frisches, eindeutig benanntes Konto."""

    def __call__(self, rolle: str = "person", *, admin: bool = False) -> Zugang: ...
