"""Kennzahlen, Ziele, die Tabelle auf der Konsole und `bench/results.json`."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import statistics
from dataclasses import dataclass
from typing import Any


def perzentile(werte: list[float]) -> dict[str, float]:
    """p50/p95/p99 (linear interpoliert wie numpy), Mittel, Min, Max, in ms."""
    if not werte:
        return {}
    grenzen = statistics.quantiles(werte, n=100, method="inclusive") if len(werte) > 1 else []

    def p(k: int) -> float:
        return round(grenzen[k - 1], 2) if grenzen else round(werte[0], 2)

    return {
        "p50": p(50),
        "p95": p(95),
        "p99": p(99),
        "mittel": round(statistics.fmean(werte), 2),
        "min": round(min(werte), 2),
        "max": round(max(werte), 2),
        "proben": len(werte),
    }


@dataclass
class Zeile:
    """Eine Zeile der Tabelle: Messwert, Vergleich (falls es einen gibt) und Ziel."""

    bereich: str
    was: str
    wert: str
    ziel: str = ""
    verhaeltnis: str = ""
    erfuellt: bool | None = None  # None: nur Information, kein Ziel

    def als_dict(self) -> dict[str, Any]:
        return {
            "bereich": self.bereich,
            "was": self.was,
            "wert": self.wert,
            "ziel": self.ziel,
            "verhaeltnis": self.verhaeltnis,
            "erfuellt": self.erfuellt,
        }


def zeichen(erfuellt: bool | None) -> str:
    return {True: "✓", False: "✗", None: ""}[erfuellt]


def tabelle(zeilen: list[Zeile]) -> str:
    kopf = ("Bereich", "Messung", "Wert", "Verhältnis", "Ziel", "")
    daten = [(z.bereich, z.was, z.wert, z.verhaeltnis, z.ziel, zeichen(z.erfuellt)) for z in zeilen]
    breiten = [max(len(str(r[i])) for r in [kopf, *daten]) for i in range(len(kopf))]

    def zeile(werte: tuple[str, ...]) -> str:
        return "  ".join(str(w).ljust(b) for w, b in zip(werte, breiten, strict=True)).rstrip()

    trenner = "  ".join("-" * b for b in breiten)
    ausgabe = [zeile(kopf), trenner]
    vorher = None
    for werte in daten:
        if vorher is not None and werte[0] != vorher:
            ausgabe.append("")
        vorher = werte[0]
        ausgabe.append(zeile(werte))
    return "\n".join(ausgabe)


def _version(paket: str) -> str:
    try:
        return importlib.metadata.version(paket)
    except importlib.metadata.PackageNotFoundError:
        return "nicht installiert"


def maschine() -> dict[str, Any]:
    modell = "unbekannt"
    mhz: str | None = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for eintrag in cpuinfo:
                schluessel, _, wert = eintrag.partition(":")
                if schluessel.strip() == "model name" and modell == "unbekannt":
                    modell = wert.strip()
                elif schluessel.strip() == "cpu MHz" and mhz is None:
                    mhz = wert.strip()
    except OSError:
        pass
    speicher_mb = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            for eintrag in meminfo:
                if eintrag.startswith("MemTotal:"):
                    speicher_mb = int(eintrag.split()[1]) // 1024
    except OSError:
        pass
    return {
        "cpu": modell,
        "cpu_mhz": mhz,
        "kerne": os.cpu_count(),
        "arbeitsspeicher_mb": speicher_mb,
        "last_beim_start": [round(x, 2) for x in os.getloadavg()],
        "system": platform.platform(),
        "python": platform.python_version(),
        "synapse": _version("matrix-synapse"),
        "matrix_nio": _version("matrix-nio"),
        "vodozemac": _version("vodozemac"),
        "sqlalchemy": _version("SQLAlchemy"),
        "aiosqlite": _version("aiosqlite"),
        "asyncpg": _version("asyncpg"),
        "matplotlib": _version("matplotlib"),
    }


def jetzt_iso() -> str:
    return dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds")
