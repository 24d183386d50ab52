"""The conversation log under load, through both real servers (conftest.py): nothing dropped,
nothing out of order, and nothing a customer read missing after a kill -9 of the action server.

Each test prints its counts ("messages sent, replies received, rows found"); `pytest -s` shows
them.
"""

from __future__ import annotations

import collections
import concurrent.futures
import threading
import time
from typing import Dict, List, Tuple

import pytest

from bot import replies
from bot.storage.privacy import mask_pii

pytestmark = pytest.mark.integration

APOLOGIES = {replies.SOMETHING_WRONG, replies.TOO_SLOW}  # the channel's, when the bot failed


# Demo orders that are only read (store/README.md), with the e-mail that proves them.
ORDERS = [("100003", "chloe.martin@example.com"), ("100007", "gabriel.tremblay@example.com"),
          ("100010", "julia.santos@example.com"), ("100012", "lena.fischer@example.com")]


def script(i: int) -> List[str]:
    """Ten messages that take every kind of reply: rules, an order looked up in the store after
    the identity check, the knowledge base, out of scope, no answer and a person."""
    number, email = ORDERS[i % len(ORDERS)]
    return [
        "hi",
        f"where is my order #{number}",
        email,
        "how long does a refund to PayPal take",
        "thanks",
        "what's the weather in Paris",
        "are you a bot?",
        "bye",
        "do you offer a student discount",
        "yes please",  # a person from here on: the bot's last turn
    ]


def test_fifty_conversations_of_ten_messages_in_parallel_are_logged_exactly_and_in_order(bot):
    conversations = {f"load-{i:02d}": script(i) for i in range(50)}

    def converse(sender: str) -> List[List[str]]:
        return [bot.say(sender, message)[0] for message in conversations[sender]]

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(conversations)) as pool:
        received = dict(zip(conversations, pool.map(converse, conversations)))
    seconds = time.monotonic() - started

    sent = sum(len(messages) for messages in conversations.values())
    answered = sum(
        1 for texts in received.values() for reply in texts if reply and not APOLOGIES & set(reply)
    )
    logged = {sender: bot.logged_turns(sender) for sender in conversations}
    rows = sum(len(turns) for turns in logged.values())
    in_order = sum(
        [t["user_text"] for t in turns] == [mask_pii(m) for m in conversations[sender]]
        and [t["seq"] for t in turns] == list(range(1, len(turns) + 1))
        for sender, turns in logged.items()
    )
    # The channels' transcript (written by the Rasa server, apart from the turns) has every
    # customer message too, once.
    hashes = {bot.sender_hash(sender) for sender in conversations}

    def customer_lines() -> int:
        rows = bot.log_query("SELECT sender_hash, COUNT(*) AS n FROM transcript "
                             "WHERE role = 'customer' GROUP BY sender_hash")
        return sum(r["n"] for r in rows if r["sender_hash"] in hashes)

    deadline = time.monotonic() + 30
    while (lines := customer_lines()) < sent and time.monotonic() < deadline:
        time.sleep(0.5)
    print(f"\n[{bot.db_kind}] parallel load: {len(conversations)} conversations x 10 messages in "
          f"{seconds:.1f} s: messages sent {sent}, replies received {answered}, rows found {rows}, "
          f"conversations complete and in order {in_order}/{len(conversations)}, transcript "
          f"lines from customers {lines}")
    assert (sent, answered, rows, in_order) == (500, 500, 500, 50)
    assert lines == sent


KILL_SCRIPT = ["hi", "where is my order #{n}", "can i cancel my order", "thanks",
               "what's the weather in Paris", "I forgot my password"]


def test_after_a_kill_9_of_the_action_server_every_reply_received_has_its_row(bot):
    """Eight customers write without pause; the action server is killed with SIGKILL (main
    process and worker) and started again while they do."""
    stop = threading.Event()
    lock = threading.Lock()
    exchanges: Dict[str, List[Tuple[str, bool, float]]] = collections.defaultdict(list)
    errors: List[BaseException] = []

    def customer(sender: str) -> None:
        try:
            talk(sender)
        except BaseException as e:  # a 5xx or a hang: the test fails with it below
            errors.append(e)

    def talk(sender: str) -> None:
        n = 0
        while not stop.is_set():
            message = KILL_SCRIPT[n % len(KILL_SCRIPT)].format(n=400000 + n)
            n += 1
            texts, _ = bot.say(sender, message)
            replied = any(t and t not in APOLOGIES for t in texts)
            with lock:
                exchanges[sender].append((message, replied, time.monotonic()))
            if not replied:
                time.sleep(0.3)  # the bot is down: a person would not type faster

    def replies_so_far(since: float = 0.0) -> int:
        with lock:
            return sum(r and t >= since for ex in exchanges.values() for _, r, t in ex)

    senders = [f"kill-{i}" for i in range(8)]
    threads = [threading.Thread(target=customer, args=(s,), daemon=True) for s in senders]
    for thread in threads:
        thread.start()
    try:
        _wait_for(lambda: replies_so_far() >= 40, timeout_s=60)
        killed_at = time.monotonic()
        bot.kill_action_server()
        restart_s = bot.restart_action_server()
        back_at = time.monotonic()
        _wait_for(lambda: replies_so_far(since=back_at) >= 24, timeout_s=60)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []
    bot.wait_for_log_health(ok=True)  # anything kept in the spool has been replayed

    sent = sum(len(ex) for ex in exchanges.values())
    received = sum(r for ex in exchanges.values() for _, r, _ in ex)
    down = sum(not r for ex in exchanges.values() for _, r, t in ex if t >= killed_at)
    rows = missing = 0
    for sender in senders:
        logged = collections.Counter(t["user_text"] for t in bot.logged_turns(sender))
        replied = collections.Counter(m for m, r, _ in exchanges[sender] if r)
        rows += sum(logged.values())
        missing += sum((replied - logged).values())
    print(f"\n[{bot.db_kind}] kill -9 under load: messages sent {sent}, replies received "
          f"{received}, apologies while the action server was down {down}, rows found {rows} "
          f"(rows for received replies {received - missing}, rows whose reply was lost in the "
          f"kill {rows - (received - missing)}), restart took {restart_s:.1f} s")
    assert down > 0, "the kill did not happen under load"
    assert missing == 0
    assert rows <= sent


def _wait_for(condition, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
