"""Cron schedules as the CronJob controller reads them (robfig/cron's standard 5-field parser).

Fields: minute, hour, day of month, month, day of week; ``*``, ``?``, ``a-b``,
``*/n``, ``a-b/n``, ``a/n``, lists, month and weekday names, and the macros
``@yearly``/``@annually``, ``@monthly``, ``@weekly``, ``@daily``/``@midnight``,
``@hourly``. A ``CRON_TZ=``/``TZ=`` prefix or ``spec.timeZone`` gives the time
zone (UTC by default). When both day fields are restricted, a day matching
either runs (cron's rule).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

try:
    from zoneinfo import ZoneInfo
except ImportError:  # pragma: no cover - Python < 3.9
    ZoneInfo = None  # type: ignore[assignment]

MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
          "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
MONTHS = {name: index + 1 for index, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
DAYS = {name: index for index, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}


class CronError(ValueError):
    pass


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> tuple[frozenset[int], bool]:
    """The values of one field and whether it was a star (unrestricted)."""
    values: set[int] = set()
    star = False
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, _, step_text = part.partition("/")
            try:
                step = int(step_text)
            except ValueError:
                raise CronError(f"failed to parse int from {step_text}") from None
            if step <= 0:
                raise CronError(f"step of range should be a positive number: {text}")
        if part in ("*", "?"):
            start, end = low, high
            star = star or step == 1
        elif "-" in part:
            first, _, last = part.partition("-")
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(part, names)
            end = high if "/" in text else start
        if start < low or end > high or start > end:
            raise CronError(f"end of range ({end}) above maximum ({high}): {text}" if end > high
                            else f"beginning of range ({start}) below minimum ({low}): {text}")
        values.update(range(start, end + 1, step))
    return frozenset(values), star


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.lower() in names:
        return names[text.lower()]
    try:
        return int(text)
    except ValueError:
        raise CronError(f"failed to parse int from {text}") from None


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool
    zone: _dt.tzinfo

    def _day_matches(self, day: _dt.date) -> bool:
        weekday = (day.weekday() + 1) % 7  # Sunday = 0
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return weekday in self.weekdays
        if self.any_weekday:
            return day.day in self.days
        return day.day in self.days or weekday in self.weekdays

    def next_after(self, moment: float) -> float | None:
        """The first scheduled time strictly after ``moment`` (epoch seconds), within five years."""
        local = _dt.datetime.fromtimestamp(moment, self.zone).replace(second=0, microsecond=0)
        local += _dt.timedelta(minutes=1)
        day = local.date()
        for _ in range(366 * 5):
            if day.month in self.months and self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = _dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.zone)
                        if candidate >= local:
                            return candidate.timestamp()
            day += _dt.timedelta(days=1)
            local = _dt.datetime(day.year, day.month, day.day, tzinfo=self.zone)
        return None


def parse(schedule: str, time_zone: str | None = None) -> Schedule:
    text = schedule.strip()
    zone_name = time_zone
    if text.startswith(("CRON_TZ=", "TZ=")):
        prefix, _, text = text.partition(" ")
        zone_name = prefix.split("=", 1)[1]
        text = text.strip()
    zone: _dt.tzinfo = _dt.timezone.utc
    if zone_name and zone_name not in ("UTC", "Etc/UTC"):
        if ZoneInfo is None:
            raise CronError(f"unknown time zone {zone_name}")
        try:
            zone = ZoneInfo(zone_name)
        except Exception:  # noqa: BLE001 - zoneinfo raises several kinds
            raise CronError(f"unknown time zone {zone_name}") from None
    text = MACROS.get(text, text)
    if text.startswith("@every"):
        raise CronError("@every is not supported by CronJobs")
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: {text}")
    minutes, _ = _field(fields[0], 0, 59)
    hours, _ = _field(fields[1], 0, 23)
    days, any_day = _field(fields[2], 1, 31)
    months, _ = _field(fields[3], 1, 12, MONTHS)
    weekdays, any_weekday = _field(fields[4].replace("7", "0") if fields[4] == "7" else fields[4], 0, 7, DAYS)
    if 7 in weekdays:
        weekdays = frozenset((weekdays - {7}) | {0})
    return Schedule(minutes, hours, days, months, weekdays, any_day, any_weekday, zone)
