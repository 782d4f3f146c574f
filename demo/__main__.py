"""Die Kommandozeile `klimabot-demo` (auch `python -m demo`).

Exit-Codes: 0 nach sauberem Ende (auch Strg+C), 2 ohne Synapse, 1 bei Fehler.
"""

from __future__ import annotations

import argparse
import logging
import sys

from bot.deutscher_parser import DeutscherParser
from bot.geheimnisse import richte_protokoll_ein
from demo.vorfuehrung import fuehre_vor

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = DeutscherParser(
        prog="klimabot-demo",
        description="Den Klimabot vorführen: Wegwerf-Homeserver, Beispielstruktur, kurze Szene; "
        "danach läuft alles zum Ausprobieren weiter, bis Strg+C aufräumt.",
    )
    parser.add_argument(
        "--nur-szene",
        action="store_true",
        help="nur die Szene zeigen, dann aufräumen und enden (für Tests und CI)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    richte_protokoll_ein()
    argumente = _parser().parse_args(argv)
    # Die Mitschrift soll lesbar bleiben: nur echte Probleme erscheinen als Logzeilen.
    logging.getLogger("nio").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        return fuehre_vor(nur_szene=argumente.nur_szene)
    except Exception:
        log.exception("Unerwarteter Fehler")
        return 1


if __name__ == "__main__":
    sys.exit(main())
