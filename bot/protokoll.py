"""Das Format des Protokolls: Text für Menschen oder JSON für einen Log-Sammler.

`bot.protokollformat = "json"`: jede Logzeile ist ein JSON-Objekt auf genau einer Zeile, mit
`time` (UTC, ISO 8601), `level`, `logger`, `message` und, wenn es einen gibt, `exception`
(der Traceback, mit `\\n` statt Zeilenumbrüchen). Die Schlüssel sind die, die Sammler wie Loki,
Graylog oder Fluent Bit von selbst erkennen.

Geschwärzt ist schon der Satz (`bot.geheimnisse`, in der LogRecord-Fabrik); das Format
schwärzt zur Sicherheit noch einmal, was es schreibt.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from bot.geheimnisse import TEXTFORMAT, schwaerze


class JsonFormat(logging.Formatter):
    """Ein Satz → ein JSON-Objekt auf einer Zeile."""

    def format(self, record: logging.LogRecord) -> str:
        daten: dict[str, str] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": schwaerze(record.getMessage()),
        }
        ausnahme = record.exc_text
        if not ausnahme and record.exc_info and record.exc_info[0] is not None:
            ausnahme = self.formatException(record.exc_info)
        if ausnahme:
            daten["exception"] = schwaerze(ausnahme)
        if record.stack_info:
            daten["stack"] = schwaerze(record.stack_info)
        return json.dumps(daten, ensure_ascii=False)


def stelle_format_ein(protokollformat: str) -> None:
    """Gibt allen Handlern des Wurzel-Loggers das Format `"text"` oder `"json"`."""
    format_ = JsonFormat() if protokollformat == "json" else logging.Formatter(TEXTFORMAT)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(format_)
