"""When a broadcast may reach a NANP number: inside the tenant's send window (08:00-21:00 by
default) in the recipient's local time, judged by area code.

An area code spanning several zones is open only while the window is open in all of them;
one libphonenumber gives no zone is judged in the tenant's own zone. Numbers outside NANP are
not held (their quiet-hours rules differ by country; the caller's `to_be_sent` decides).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from phonenumbers.tzdata import TIMEZONE_DATA

from control.errors import Invalid

DEFAULT = "08:00-21:00"
WINDOW = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])")
ALWAYS = "00:00-24:00"


@dataclass(frozen=True)
class SendWindow:
    start: int  # minutes after midnight
    end: int  # minutes after midnight, > start (24:00 is 1440)

    @classmethod
    def parse(cls, text: str) -> "SendWindow":
        match = WINDOW.fullmatch(text.strip())
        if match is None:
            raise Invalid([f"send_window: {text[:20]!r} is not HH:MM-HH:MM (e.g. 08:00-21:00)"])
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end > 24 * 60 or end <= start:
            raise Invalid([f"send_window: {text.strip()!r} must end after it starts, by 24:00 at the latest"])
        return cls(start, end)

    def __str__(self) -> str:
        return f"{self.start // 60:02}:{self.start % 60:02}-{self.end // 60:02}:{self.end % 60:02}"

    @property
    def always(self) -> bool:
        return self.start == 0 and self.end == 24 * 60

    def next_open_in(self, zone: ZoneInfo, at: datetime) -> datetime:
        """`at` if the window is open then in `zone`, else when it next opens (UTC-aware)."""
        local = at.astimezone(zone)
        minute = local.hour * 60 + local.minute
        if self.start <= minute < self.end:
            return at
        day = local.date() if minute < self.start else local.date() + timedelta(days=1)
        opens = datetime.combine(day, time(self.start // 60, self.start % 60), zone)
        return opens.astimezone(at.tzinfo)


@lru_cache(maxsize=2048)
def nanp_zones(area: str) -> tuple[ZoneInfo, ...]:
    """The zones libphonenumber gives a NANP area code, or its exchanges when it splits it
    (1310 has none of its own, 13102... have one each): all of them (none when it knows none)."""
    return tuple(ZoneInfo(n) for n in sorted(_zone_names().get(area, ())) if n != "Etc/Unknown")


@lru_cache(maxsize=1)
def _zone_names() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for prefix, names in TIMEZONE_DATA.items():
        if prefix[:1] == "1" and len(prefix) >= 4:
            found.setdefault(prefix[1:4], set()).update(names)
    return found


def next_open(phone: str, at: datetime, window: SendWindow, tenant_zone: ZoneInfo) -> datetime:
    """When `phone` (E.164) may first be reached at or after `at`."""
    if window.always or not phone.startswith("+1") or len(phone) != 12:
        return at
    zones = nanp_zones(phone[2:5]) or (tenant_zone,)
    # Open in every zone at once: move to each zone's next opening until one time suits all.
    for _ in range(4):
        later = max(window.next_open_in(zone, at) for zone in zones)
        if later == at:
            return at
        at = later
    return at
