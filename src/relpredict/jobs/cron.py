"""Five-field cron expressions (``minute hour day-of-month month day-of-week``), in UTC. Pure.

What :mod:`relpredict.jobs.schedules` fires jobs by. Each field is ``*``, a number, a range
``a-b``, a step ``*/n`` or ``a-b/n``, or a comma-separated list of those; months and weekdays
may be written as names (``jan``, ``mon``), and a weekday of 7 is Sunday like 0. As in Vixie
cron, when both the day of the month and the day of the week are restricted, a day matching
either fires.

>>> cron = parse_cron("0 6 * * 1")
>>> cron.next_after(datetime(2024, 3, 1, 12, 0))
datetime.datetime(2024, 3, 4, 6, 0)
>>> cron.latest_at_or_before(datetime(2024, 3, 6, 0, 0))
datetime.datetime(2024, 3, 4, 6, 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from relpredict.errors import ConfigError

__all__ = ["Cron", "parse_cron"]

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# (name, lowest, highest, names counted from lowest)
_FIELDS = (("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day of the month", 1, 31, ()),
           ("month", 1, 12, _MONTHS), ("day of the week", 0, 7, _DAYS))
_EXAMPLE = "e.g. '0 6 * * 1' (Mondays at 06:00 UTC) or '*/15 * * * *'"
SEARCH_DAYS = 366 * 5  # a date every expression that can fire at all reaches (29 February)


@dataclass(frozen=True)
class Cron:
    """A parsed expression: the allowed values of each field (weekdays 0-6, Sunday 0)."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool  # day of the month is *
    any_weekday: bool  # day of the week is *

    def day_matches(self, day: datetime) -> bool:
        if day.month not in self.months:
            return False
        by_date, by_weekday = day.day in self.days, (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return by_date and by_weekday
        return by_date or by_weekday

    def matches(self, at: datetime) -> bool:
        """Whether the minute ``at`` is one the expression fires at."""
        return self.day_matches(at) and at.hour in self.hours and at.minute in self.minutes

    def next_after(self, after: datetime) -> datetime | None:
        """The first minute strictly after ``after`` that fires (None: none in five years)."""
        start = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for _ in range(SEARCH_DAYS):
            if self.day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        at = day.replace(hour=hour, minute=minute)
                        if at >= start:
                            return at
            day += timedelta(days=1)
        return None

    def latest_at_or_before(self, at: datetime) -> datetime | None:
        """The last minute at or before ``at`` that fires (None: none in five years)."""
        end = at.replace(second=0, microsecond=0)
        day = end.replace(hour=0, minute=0)
        for _ in range(SEARCH_DAYS):
            if self.day_matches(day):
                for hour in sorted(self.hours, reverse=True):
                    for minute in sorted(self.minutes, reverse=True):
                        found = day.replace(hour=hour, minute=minute)
                        if found <= end:
                            return found
            day -= timedelta(days=1)
        return None


def parse_cron(text: str) -> Cron:
    """Parse ``text``; a bad expression is a ConfigError naming the field and what to write."""
    parts = (text or "").split()
    if len(parts) != 5:
        raise ConfigError(f"The cron expression {text!r} has {len(parts)} field(s); it needs 5: "
                          f"minute hour day-of-month month day-of-week, {_EXAMPLE}.")
    values = [_field(part, *spec, text) for part, spec in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in values[4])
    cron = Cron(" ".join(parts), values[0], values[1], values[2], values[3], weekdays,
                any_day=parts[2] == "*", any_weekday=parts[4] == "*")
    if cron.next_after(datetime(2000, 1, 1)) is None:
        raise ConfigError(f"The cron expression {text!r} never fires (no such date, e.g. 31 in a "
                          f"30-day month): choose days that exist, {_EXAMPLE}.")
    return cron


def _field(part: str, name: str, lo: int, hi: int, names: tuple[str, ...], text: str) -> frozenset[int]:
    out: set[int] = set()
    for item in part.lower().split(","):
        body, slash, step_text = item.partition("/")
        step = _number(step_text, name, 1, hi - lo + 1, text, ()) if slash else 1
        if body == "*":
            first, last = lo, hi
        elif "-" in body:
            a, _, b = body.partition("-")
            first, last = _number(a, name, lo, hi, text, names), _number(b, name, lo, hi, text, names)
            if first > last:
                raise ConfigError(f"The {name} range {body!r} of the cron expression {text!r} runs "
                                  f"backwards: write it low-high, e.g. {last}-{first}.")
        else:
            first = _number(body, name, lo, hi, text, names)
            last = hi if slash else first
        out.update(range(first, last + 1, step))
    return frozenset(out)


def _number(value: str, name: str, lo: int, hi: int, text: str, names: tuple[str, ...]) -> int:
    if value in names:
        return names.index(value) + lo
    if not value.isdigit() or not lo <= int(value) <= hi:
        named = f" or a name ({', '.join(names[:3])}, ...)" if names else ""
        raise ConfigError(f"The {name} field of the cron expression {text!r} has {value!r}: give a "
                          f"number {lo}-{hi}{named}, '*', a range a-b or a step */n, {_EXAMPLE}.")
    return int(value)
