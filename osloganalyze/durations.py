"""Durations as operators write them: '30s', '15m', '24h', '7d' (options and rule thresholds)."""
from __future__ import annotations

import re

DURATION = re.compile(r"^(\d{1,12})([smhd])$")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
LONGEST = 100 * 366 * 86400  # a century: any longer reaches past the calendar's ends


class TooLong(ValueError):
    pass


def parse_duration(text: str) -> int:
    """Seconds in '30s', '5m', '24h', '7d' (ValueError otherwise; TooLong past a century)."""
    m = DURATION.match(text.strip())
    if not m:
        raise ValueError(f"bad duration {text!r} (use e.g. 30s, 15m, 24h, 7d)")
    seconds = int(m.group(1)) * SECONDS[m.group(2)]
    if seconds > LONGEST:
        raise TooLong(f"duration {text!r} is longer than a century (36600d)")
    return seconds
