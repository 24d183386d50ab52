"""Live-chat hours and what a customer is told when handed to a person.

From knowledge/FACTS.md: live chat with a person Monday to Friday 8 am-8 pm and Saturday and
Sunday 10 am-4 pm, Eastern Time; closed on New Year's Day, Thanksgiving Day and Christmas Day;
e-mail (support@larkspur.example) answered within 1 business day. Pure functions of a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Optional
from zoneinfo import ZoneInfo

from bot.handoff.wording import (  # noqa: F401  (the desk and the actions read them here too)
    BACK_WITH_BOT,
    CLOSED_BY_AGENT,
    HANDOFF_FAILED,
    STILL_WAITING,
    SUPPORT_EMAIL,
)

EASTERN = ZoneInfo("America/New_York")
WEEKDAY_HOURS = (time(8), time(20))
WEEKEND_HOURS = (time(10), time(16))


def _thanksgiving(year: int) -> date:
    """The fourth Thursday of November."""
    first = date(year, 11, 1)
    first_thursday = first + timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + timedelta(weeks=3)


def is_holiday(day: date) -> bool:
    return (day.month, day.day) in ((1, 1), (12, 25)) or day == _thanksgiving(day.year)


def hours_on(day: date):
    """(opens, closes) on ``day`` in Eastern Time, or None when live chat is closed all day."""
    if is_holiday(day):
        return None
    return WEEKEND_HOURS if day.weekday() >= 5 else WEEKDAY_HOURS


def is_open(now: datetime) -> bool:
    local = now.astimezone(EASTERN)
    hours = hours_on(local.date())
    return hours is not None and hours[0] <= local.time() < hours[1]


def next_opening(now: datetime) -> datetime:
    """When live chat next opens after ``now`` (which is outside the hours), in Eastern Time."""
    local = now.astimezone(EASTERN)
    day = local.date()
    for _ in range(10):
        hours = hours_on(day)
        if hours is not None:
            opens = datetime.combine(day, hours[0], tzinfo=EASTERN)
            if opens > local:
                return opens
        day += timedelta(days=1)
    raise AssertionError("live chat never opens")  # ten days without hours: the table is wrong


def _when(opening: datetime, now: datetime) -> str:
    local_now = now.astimezone(EASTERN)
    hour = opening.strftime("%I %p").lstrip("0").lower()
    if opening.date() == local_now.date():
        return f"today at {hour} ET"
    if opening.date() == local_now.date() + timedelta(days=1):
        return f"tomorrow at {hour} ET"
    return f"{opening.strftime('%A')} at {hour} ET"


@dataclass(frozen=True)
class Ticket:
    """Where a handed-over conversation stands, for what the customer is told."""

    handoff_id: int
    position: int  # 1: next to be answered
    open_now: bool
    expected_wait_min: Optional[int]  # None outside the hours
    opens_at: Optional[datetime] = None  # outside the hours: the next opening


def ticket_for(handoff_id: int, position: int, now: datetime, minutes_per_customer: float,
               always_open: bool = False) -> Ticket:
    if always_open or is_open(now):
        wait = max(1, round(position * minutes_per_customer))
        return Ticket(handoff_id, position, True, wait)
    return Ticket(handoff_id, position, False, None, next_opening(now))


def customer_notice(ticket: Ticket, now: Optional[datetime] = None) -> str:
    """What the customer reads when handed over: the queue and the wait, or the hours."""
    now = now or datetime.now(timezone.utc)
    if ticket.open_now:
        ahead = ticket.position - 1
        place = ("You're next in the queue" if ahead == 0
                 else f"You're number {ticket.position} in the queue")
        minutes = "minute" if ticket.expected_wait_min == 1 else "minutes"
        return (f"I'm passing you to a person from our support team. {place}; the expected wait "
                f"is about {ticket.expected_wait_min} {minutes}. They will see this conversation, "
                f"so you don't need to repeat anything. Keep this chat open: they answer here.")
    return (f"I'm passing you to our support team. Live chat with a person is closed now; it "
            f"opens {_when(ticket.opens_at, now)} (Monday to Friday 8 am-8 pm, weekends "
            f"10 am-4 pm ET). Leave your message here and a person will answer at opening time, "
            f"or write to {SUPPORT_EMAIL} and we reply by e-mail within 1 business day.")
