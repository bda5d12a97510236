"""Statistics on plain numbers: the per-process fit, regression verdicts, change points. No timing in here."""
