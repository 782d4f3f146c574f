"""argparse, das Deutsch spricht – unabhängig von der Sprache der Shell.

argparse holt seine Texte („usage:“, „the following arguments are required“, „invalid
choice“ …) per gettext aus der Sprache des Prozesses; einen deutschen Katalog bringt Python
nicht mit, und die Shell der Verwaltung läuft oft mit `LANG=C`. Solange dieser Parser
arbeitet, ersetzt er deshalb argparses Nachschlagen durch den Katalog hier; danach gilt
wieder das Original (auch pytest benutzt argparse im selben Prozess).
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn, ParamSpec, TypeVar

# Die Nachrichten-IDs sind argparses englische Texte (wie in einem gettext-Katalog).
KATALOG: dict[str, str] = {
    "usage: ": "Aufruf: ",
    "positional arguments": "Argumente",
    "options": "Optionen",
    "subcommands": "Befehle",
    "show this help message and exit": "diese Hilfe zeigen und beenden",
    "%(prog)s: error: %(message)s\n": "%(prog)s: Fehler: %(message)s\n",
    "argument %(argument_name)s: %(message)s": "%(argument_name)s: %(message)s",
    "the following arguments are required: %s": "es fehlt: %s",
    "one of the arguments %s is required": "eine dieser Angaben ist nötig: %s",
    "unrecognized arguments: %s": "unbekannte Angaben: %s",
    "invalid choice: %(value)r (choose from %(choices)s)": (
        "„%(value)s“ gibt es nicht (möglich: %(choices)s)"
    ),
    "unknown parser %(parser_name)r (choices: %(choices)s)": (
        "Befehl „%(parser_name)s“ gibt es nicht (möglich: %(choices)s)"
    ),
    "invalid %(type)s value: %(value)r": "„%(value)s“ ist kein gültiger Wert (%(type)s)",
    "ambiguous option: %(option)s could match %(matches)s": (
        "Option %(option)s ist mehrdeutig: %(matches)s"
    ),
    "expected one argument": "erwartet einen Wert",
    "expected at most one argument": "erwartet höchstens einen Wert",
    "expected at least one argument": "erwartet mindestens einen Wert",
    "not allowed with argument %s": "nicht zusammen mit %s möglich",
    "ignored explicit argument %r": "nimmt keinen Wert an (%r)",
    "can't open '%(filename)s': %(error)s": "„%(filename)s“ lässt sich nicht öffnen: %(error)s",
    'argument "-" with mode %r': "„-“ im Modus %r",
    # Ab hier Fehler beim Bau eines Parsers, also im Programm, nie auf der Kommandozeile.
    ".__call__() not defined": ".__call__() fehlt",
    "'required' is an invalid argument for positionals": (
        "„required“ gibt es nur für Optionen, nicht für Argumente"
    ),
    "mutually exclusive arguments must be optional": (
        "einander ausschließende Angaben müssen Optionen sein"
    ),
    "%r is not callable": "%r ist nicht aufrufbar",
    "cannot merge actions - two groups are named %r": (
        "Aktionen nicht zusammenführbar: zwei Gruppen heißen %r"
    ),
    "invalid option string %(option)r: must start with a character %(prefix_chars)r": (
        "ungültige Option %(option)r: muss mit einem Zeichen aus %(prefix_chars)r beginnen"
    ),
    "dest= is required for options like %r": "dest= ist nötig für Optionen wie %r",
    "invalid conflict_resolution value: %r": "ungültiger Wert für conflict_resolution: %r",
    "cannot have multiple subparser arguments": "nur eine Gruppe von Unterbefehlen möglich",
    "conflicting subparser: %s": "Unterbefehl doppelt: %s",
    "conflicting subparser alias: %s": "Alias eines Unterbefehls doppelt: %s",
    "unexpected option string: %s": "unerwartete Option: %s",
}

# Einzahl- und Mehrzahl-ID wie bei gettexts ngettext.
KATALOG_MIT_ANZAHL: dict[tuple[str, str], tuple[str, str]] = {
    ("expected %s argument", "expected %s arguments"): ("erwartet %s Wert", "erwartet %s Werte"),
    ("conflicting option string: %s", "conflicting option strings: %s"): (
        "Option doppelt: %s",
        "Optionen doppelt: %s",
    ),
}


def _uebersetze(nachricht: str | None) -> str | None:
    # Unbekanntes bleibt englisch, wie bei gettext; tests/test_kommandozeile.py hält den
    # Katalog vollständig für das Python, mit dem der Bot läuft.
    return None if nachricht is None else KATALOG.get(nachricht, nachricht)


def _uebersetze_mit_anzahl(einzahl: str, mehrzahl: str, anzahl: int) -> str:
    deutsch = KATALOG_MIT_ANZAHL.get((einzahl, mehrzahl))
    if deutsch is None:
        return einzahl if anzahl == 1 else mehrzahl
    return deutsch[0] if anzahl == 1 else deutsch[1]


@contextmanager
def _auf_deutsch() -> Iterator[None]:
    # argparse ruft `_` und `ngettext` als Namen seines Moduls auf (aus gettext importiert).
    vorher = (argparse._, argparse.ngettext)  # type: ignore[attr-defined]
    argparse._ = _uebersetze  # type: ignore[attr-defined]
    argparse.ngettext = _uebersetze_mit_anzahl  # type: ignore[attr-defined]
    try:
        yield
    finally:
        argparse._, argparse.ngettext = vorher  # type: ignore[attr-defined]


P = ParamSpec("P")
R = TypeVar("R")


def _deutsch(methode: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(methode)
    def auf_deutsch(*args: P.args, **kwargs: P.kwargs) -> R:
        with _auf_deutsch():
            return methode(*args, **kwargs)

    return auf_deutsch


class DeutscherParser(argparse.ArgumentParser):
    """Ein `ArgumentParser`, dessen eigene Texte deutsch sind; Aufruffehler enden mit Code 2.

    Unterbefehle bekommen dieselbe Klasse (argparse gibt sie an `add_parser` weiter).
    Jede Methode, in der argparse Texte nachschlägt, arbeitet mit dem deutschen Katalog.
    """

    @_deutsch
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

    @_deutsch
    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        return super().add_argument(*args, **kwargs)

    @_deutsch
    def add_subparsers(self, **kwargs: Any) -> argparse._SubParsersAction[Any]:
        return super().add_subparsers(**kwargs)

    @_deutsch
    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> tuple[Any, list[str]]:
        return super().parse_known_args(args, namespace)

    @_deutsch
    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> Any:
        return super().parse_args(args, namespace)

    @_deutsch
    def format_usage(self) -> str:
        return super().format_usage()

    @_deutsch
    def format_help(self) -> str:
        return super().format_help()

    @_deutsch
    def error(self, message: str) -> NoReturn:
        super().error(message)
