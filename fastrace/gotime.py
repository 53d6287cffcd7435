"""Wall-clock formatting the way Go prints a ``time.Time``.

Go's ``-d=parsed`` dump prints a clock snapshot's wall time as
``time.Unix(sec, nsec).Format(time.RFC3339Nano)`` in the process's local
time zone (``time.Local``).  This module reproduces both halves:

- :func:`go_local_zone` picks the zone the way a Go program on a Unix
  system does at start-up: no ``TZ`` variable means ``/etc/localtime``;
  ``TZ=""`` and ``TZ=UTC`` mean UTC; ``TZ=/abs/path`` (optionally with a
  leading ``:``) reads that file; any other ``TZ=name`` is looked up in the
  system zoneinfo directories.  A zone that cannot be loaded means UTC, as
  in Go.  (Go has two last resorts that are not reproduced: tz data
  embedded with ``time/tzdata`` and ``$GOROOT/lib/time/zoneinfo.zip``.)
  Note that Go does not interpret POSIX rule strings such as ``EST5EDT`` or
  ``UTC+3`` given directly in ``TZ``: unless a zoneinfo file has that name,
  they mean UTC.
- :func:`format_rfc3339nano` prints ``YYYY-MM-DDTHH:MM:SS[.fraction]`` with
  the fraction's trailing zeros (and a bare dot) dropped, then ``Z`` for a
  zero offset or ``+HH:MM`` / ``-HH:MM`` (seconds of odd historical offsets
  are truncated, as Go does).

Dates are computed with integer arithmetic on the proleptic Gregorian
calendar, so years outside Python's ``datetime`` range format too.
"""

from __future__ import annotations

import datetime as _dt
import os
import zoneinfo
from typing import Protocol

__all__ = [
    "Zone",
    "UTC",
    "FixedZone",
    "go_local_zone",
    "format_rfc3339nano",
    "unix_rfc3339nano",
    "civil_from_days",
    "days_from_civil",
]

_NS = 1_000_000_000

# Directories a Go program on Linux and other Unix systems searches for a
# zone named by $TZ, in order.
_ZONE_DIRS = (
    "/usr/share/zoneinfo/",
    "/usr/share/lib/zoneinfo/",
    "/usr/lib/locale/TZ/",
    "/etc/zoneinfo",
)


class Zone(Protocol):
    def offset(self, unix_sec: int) -> int:
        """Seconds east of UTC in effect at ``unix_sec``."""


class FixedZone:
    """A zone with one constant offset (seconds east of UTC)."""

    def __init__(self, offset: int, name: str = ""):
        self._offset = int(offset)
        self.name = name

    def offset(self, unix_sec: int) -> int:
        return self._offset

    def __repr__(self) -> str:
        return f"FixedZone({self._offset}, {self.name!r})"


UTC = FixedZone(0, "UTC")

# datetime can represent these Unix seconds (a day's margin on each side
# keeps the local-time conversion inside its range too).
_MIN_SEC = -62135596800 + 86400
_MAX_SEC = 253402300799 - 86400


class _TZifZone:
    """A zone read from a TZif (zoneinfo) file."""

    def __init__(self, info: zoneinfo.ZoneInfo, name: str):
        self._info = info
        self.name = name

    def offset(self, unix_sec: int) -> int:
        # Outside datetime's range the offset at the nearest end applies;
        # tz rules do not change there in practice.
        s = min(max(unix_sec, _MIN_SEC), _MAX_SEC)
        off = _dt.datetime.fromtimestamp(s, self._info).utcoffset()
        return 0 if off is None else int(off.total_seconds())

    def __repr__(self) -> str:
        return f"<zone {self.name!r} from zoneinfo>"


def _load_file(path: str, name: str) -> Zone | None:
    try:
        with open(path, "rb") as f:
            info = zoneinfo.ZoneInfo.from_file(f, key=name)
    except (OSError, ValueError):
        return None
    return _TZifZone(info, name)


def _load_named(name: str, dirs: tuple[str, ...]) -> Zone | None:
    for d in dirs:
        z = _load_file(d + "/" + name if d else name, name)
        if z is not None:
            return z
    return None


_cache: dict[str | None, Zone] = {}


def go_local_zone(environ=None) -> Zone:
    """The zone Go's ``time.Local`` would be in a process started with
    ``environ`` (default: this process's environment, read now)."""
    env = os.environ if environ is None else environ
    tz = env.get("TZ")
    z = _cache.get(tz)
    if z is None:
        z = _resolve(tz)
        if len(_cache) > 32:
            _cache.clear()
        _cache[tz] = z
    return z


def _resolve(tz: str | None) -> Zone:
    if tz is None:
        return _load_named("localtime", ("/etc",)) or UTC
    if tz.startswith(":"):
        tz = tz[1:]
    if tz.startswith("/"):
        return _load_file(tz, tz) or UTC
    if tz and tz != "UTC":
        return _load_named(tz, _ZONE_DIRS) or UTC
    return UTC


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z: int) -> tuple[int, int, int]:
    """(year, month, day) of the day ``z`` days after 1970-01-01."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


def _pad(x: int, width: int) -> str:
    # Go's appendInt: a minus sign, then the magnitude zero-padded to width.
    if x < 0:
        return "-" + str(-x).zfill(width)
    return str(x).zfill(width)


def format_rfc3339nano(unix_sec: int, nsec: int, offset: int) -> str:
    """``unix_sec`` + ``nsec`` (0 <= nsec < 1e9) at UTC ``offset`` seconds
    in Go's ``time.RFC3339Nano`` layout."""
    days, sod = divmod(unix_sec + offset, 86400)
    y, mo, d = civil_from_days(days)
    hh, rem = divmod(sod, 3600)
    mm, ss = divmod(rem, 60)
    out = f"{_pad(y, 4)}-{mo:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}"
    if nsec:
        out += "." + f"{nsec:09d}".rstrip("0")
    if offset == 0:
        return out + "Z"
    # Go converts to minutes with truncation toward zero.
    # A negative offset of less than a minute therefore prints "+00:00".
    minutes = abs(offset) // 60
    sign = "-" if offset < 0 and minutes else "+"
    return out + f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def unix_rfc3339nano(sec: int, nsec: int, zone: Zone | None = None) -> str:
    """Go's ``time.Unix(sec, nsec).In(zone).Format(time.RFC3339Nano)``;
    ``zone`` defaults to :func:`go_local_zone`."""
    # time.Unix accepts nsec outside [0, 1e9) and carries it into sec.
    if not 0 <= nsec < _NS:
        carry, nsec = divmod(nsec, _NS)
        sec += carry
    if zone is None:
        zone = go_local_zone()
    return format_rfc3339nano(sec, nsec, zone.offset(sec))
