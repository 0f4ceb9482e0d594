"""Durations as operators write them: '30s', '15m', '24h', '7d' (options and rule thresholds)."""
from __future__ import annotations

import re

DURATION = re.compile(r"^(\d+)([smhd])$")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """Seconds in '30s', '5m', '24h', '7d' (ValueError otherwise)."""
    m = DURATION.match(text.strip())
    if not m:
        raise ValueError(f"bad duration {text!r} (use e.g. 30s, 15m, 24h, 7d)")
    return int(m.group(1)) * SECONDS[m.group(2)]
