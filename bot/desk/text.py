"""How the desk writes times and durations, the same in the pages and in their JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Optional


def clock_time(value: Optional[datetime]) -> str:
    """'14:03:27': a transcript line's time (UTC; the full date is in `full_time`)."""
    return value.strftime("%H:%M:%S") if value else ""


def full_time(value: Optional[datetime]) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def duration(seconds: float) -> str:
    """'45 s', '3 min', '2 h 05 min', '3 d 4 h': a waiting time at a glance."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"
