"""The period report: the figures of each UTC day, their totals, the top intents and the
unanswered questions grouped by meaning, in one structure. The desk's dashboard draws it and
`python -m bot logs stats` prints it (``--json``: the same structure, under ``period``).

    report = period_report(sessions, first_day, last_day, until=now,
                           embed=get_embedder(settings).encode)

``embed`` is only called when there are unanswered questions to group; without it (None) the
report says they were not grouped and has every other figure.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Dict, Optional

from sqlalchemy.orm import Session, sessionmaker

from bot.storage import figures, unanswered

GROUPS_SHOWN = 25


def period_report(sessions: "sessionmaker[Session]", first_day: date, last_day: date,
                  until: Optional[datetime] = None, embed: Optional[unanswered.Embed] = None,
                  groups_shown: int = GROUPS_SHOWN) -> Dict[str, Any]:
    since, end = figures.period_window(first_day, last_day, until)
    with sessions() as session:
        result = figures.period(session, first_day, last_day, until)
        questions = unanswered.refused_questions(session, since, end)
    # Grouping embeds the questions (seconds on a CPU): after the database session is closed.
    result["unanswered"] = unanswered.report(questions, embed, limit=groups_shown)
    return result
