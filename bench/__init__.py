"""Leistungsmessung (Issue 6): Klimabot gegen einen minimalen Echo-Bot am selben Synapse.

`make bench` bzw. `python -m bench` startet alles selbst, misst verzahnt und schreibt
`bench/results.json`; die Methode steht in `docs/leistung.md`.
"""
