"""Ein eigener Logger für Tests des Protokolls: eigener Handler auf einen Puffer, ohne Weitergabe.

Erst nach `schuetze_protokoll` anlegen: der Schutz darf von keinem Handler abhängen.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def eigenes_protokoll(
    name: str, formatierer: logging.Formatter, stufe: int = logging.DEBUG
) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """Der Logger `name` schreibt mit `formatierer` in den Puffer, bis der Block endet."""
    ausgabe = io.StringIO()
    handler = logging.StreamHandler(ausgabe)
    handler.setFormatter(formatierer)
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.setLevel(stufe)
    logger.propagate = False
    try:
        yield logger, ausgabe
    finally:
        logger.removeHandler(handler)
