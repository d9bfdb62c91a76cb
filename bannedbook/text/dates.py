"""When a web archive says a capture was made: the one rule the reader
applies to a record's date and the writer checks again before a date may
decide anything about an article."""

from __future__ import annotations

import datetime as dt
import re

from bannedbook.text.decode import safe_line

# The web is younger than 1991; a capture cannot come from the future (a day of clock skew allowed).
EARLIEST = dt.datetime(1991, 1, 1, tzinfo=dt.UTC)
CLOCK_LEEWAY = dt.timedelta(days=1)
_ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d)(\.\d{1,9})?)?(Z|[+-]\d\d:?\d\d)?")


def capture_date(value: str | None, arc: bool = False) -> tuple[str | None, str | None]:
    """(ISO 8601 UTC date, None) of a WARC-Date (or an ARC file's 14-digit
    date), or (None, why not): not a date, or outside the web's lifetime."""
    if not value:
        return None, "the record states no capture date"
    shown = repr(safe_line(value)[:40])
    if arc and re.fullmatch(r"\d{8,14}", value) and len(value) % 2 == 0:
        v = value.ljust(14, "0")
        value = f"{v[:4]}-{v[4:6]}-{v[6:8]}T{v[8:10]}:{v[10:12]}:{v[12:14]}Z"
    match = _ISO.fullmatch(value.strip())
    if not match:
        return None, f"capture date {shown} is not an ISO 8601 date: capture time unknown"
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        when = dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                           tzinfo=dt.UTC)
        if zone and zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            when -= sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[-2:]))
    except (ValueError, OverflowError):
        return None, f"capture date {shown} is not a real date: capture time unknown"
    if when < EARLIEST:
        return None, f"capture date {shown} is before the web (1991): capture time unknown"
    if when > dt.datetime.now(dt.UTC) + CLOCK_LEEWAY:
        return None, f"capture date {shown} is in the future: capture time unknown"
    return when.strftime("%Y-%m-%dT%H:%M:%S") + (fraction or "") + "Z", None


def capture_time(value: str | None) -> dt.datetime | None:
    """The time of a capture dated value, when capture_date believes it; else None."""
    iso = capture_date(value)[0]
    return dt.datetime.fromisoformat(iso) if iso else None
