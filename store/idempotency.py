"""Doing a state-changing call once per Idempotency-Key, and answering repeats from the record.

A client that lost a reply sends the call again with the same key and gets the first answer back
("replayed"), and nothing changes twice. The record is written in the same transaction as the
change it describes, so the two are never seen apart. Two requests with one key at the same
moment: on SQLite the write transaction (BEGIN IMMEDIATE) makes the second wait and then find
the record; on PostgreSQL the second's insert of the unique key fails once the first commits,
and it answers from the first one's record.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Callable, Dict, Optional

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store import repository
from store.db import write_session
from store.errors import IdempotencyKeyConflict, StoreError
from store.models import IdempotencyRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """An HTTP answer: status and body, and whether it is a replay of an earlier one."""

    status_code: int
    body: Dict[str, Any]
    replayed: bool = False
    operation: str = ""  # set on replays: cancel, address or return

    @classmethod
    def of_error(cls, error: StoreError) -> "Outcome":
        return cls(error.status_code, error.body())


def _stored(record: IdempotencyRecord) -> Outcome:
    body = dict(record.response)
    if "replayed" in body:
        body["replayed"] = True
    return Outcome(record.status_code, body, replayed=True, operation=record.operation)


def _replay(record: IdempotencyRecord, operation: str, order_number: str) -> Outcome:
    if record.operation != operation or record.order_number != order_number:
        # Reused for another call: answering with the other call's body would leak it.
        raise IdempotencyKeyConflict()
    log.info("store.idempotent_replay operation=%s", operation)
    return _stored(record)


def read_back(session: Session, key: str, order_number: str) -> Optional[Outcome]:
    """The stored answer for ``key``, if it was a call on ``order_number``; None otherwise (a
    token for one order learns nothing about another's keys)."""
    record = repository.find_operation(session, key)
    if record is None or record.order_number != order_number:
        return None
    return _stored(record)


def run_once(
    sessions: "sessionmaker[Session]",
    *,
    key: str,
    operation: str,
    order_number: str,
    now: datetime,
    action: Callable[[Session], Outcome],
) -> Outcome:
    """``action``'s outcome the first time ``key`` is seen; the stored outcome after that.

    ``action`` runs inside the write transaction and returns its answer (errors included, so a
    refusal is replayed as a refusal); the answer is recorded before the transaction commits.
    """
    try:
        with write_session(sessions) as session:
            record = repository.find_operation(session, key)
            if record is not None:
                return _replay(record, operation, order_number)
            outcome = action(session)
            session.add(
                IdempotencyRecord(
                    key=key,
                    operation=operation,
                    order_number=order_number,
                    status_code=outcome.status_code,
                    response=outcome.body,
                    created_at=now,
                )
            )
            session.flush()
            return replace(outcome, replayed=False)
    except IntegrityError:
        with sessions() as session:
            record = repository.find_operation(session, key)
            if record is None:
                raise  # not a key race: a real fault
            return _replay(record, operation, order_number)
