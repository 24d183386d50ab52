"""How long a customer waits in an order form, against a help-centre answer in the same run.

Starts the store service, the action server and the Rasa server the way `make run` does (on ports
of its own, with a throwaway var/ folder), then sends over REST:
  - help-centre questions (the baseline: one action, a search);
  - order-form turns: a request naming an order (the form starts and asks for the e-mail), the
    e-mail (checked with the store, then the order is tracked), and "and the invoice?" (the
    verified order again, no number);
one customer at a time and then ``--parallel`` customers at once. Writes reports/bench_orders.md.

    .venv/actions/bin/python -m bot.evaluation.bench_orders   (make bench-orders)
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import statistics
import time
import urllib.request
from pathlib import Path
from typing import Dict, List, Tuple


from bot import launcher, replies
from bot.evaluation.bench_servers import throwaway_settings
from bot.settings import ROOT, Settings

PORTS = (25005, 25055, 25060)  # Rasa, action server, store
APOLOGIES = {replies.SOMETHING_WRONG, replies.TOO_SLOW}
BASELINE = [
    "how long do PayPal refunds take?",
    "what payment methods do you accept",
    "how much is express shipping to Canada",
]
# (order number, e-mail) of demo orders that are only read (store/README.md).
ORDERS = [("100003", "chloe.martin@example.com"), ("100010", "julia.santos@example.com"),
          ("100007", "gabriel.tremblay@example.com"), ("100012", "lena.fischer@example.com")]


def say(url: str, sender: str, message: str) -> Tuple[List[str], float]:
    body = json.dumps({"sender": sender, "message": message}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as reply:
        texts = [r.get("text", "") for r in json.loads(reply.read())]
    return texts, time.perf_counter() - started


def conversation(url: str, i: int, tag: str) -> Dict[str, List[Tuple[float, bool]]]:
    """One customer: a help-centre question, then an order tracked and its invoice asked for."""
    number, email = ORDERS[i % len(ORDERS)]
    sender = f"bench-{tag}-{i}"
    timings: Dict[str, List[Tuple[float, bool]]] = {}

    def turn(kind: str, message: str, expected: str) -> None:
        texts, seconds = say(url, sender, message)
        ok = expected in " ".join(texts) and not APOLOGIES & set(texts)
        timings.setdefault(kind, []).append((seconds, ok))

    turn("help-centre answer (baseline)", BASELINE[i % len(BASELINE)], "help.larkspur.example")
    turn("form starts, asks the e-mail", f"where is my order #{number}",
         f"e-mail address on order #{number}")
    turn("e-mail checked, order tracked", email, f"Order #{number}")
    turn("the verified order again", "can I get the invoice for it?",
         f"invoice for order #{number} is INV-")
    return timings


def p95(values: List[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run_batch(url: str, conversations: int, parallel: int, tag: str):
    merged: Dict[str, List[Tuple[float, bool]]] = {}
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
        for timings in pool.map(lambda i: conversation(url, i, tag), range(conversations)):
            for kind, values in timings.items():
                merged.setdefault(kind, []).extend(values)
    return merged, time.perf_counter() - started


def render(results, args, seconds_total) -> str:
    lines = [
        "# Order forms: how long a customer waits",
        "",
        f"`make bench-orders` on {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}; {time.strftime('%Y-%m-%d')}. Through REST, the Rasa "
        "server, the action server and the store service, started as `make run` starts them "
        "(extractive replies, SQLite). Each conversation: a help-centre question (the baseline, in "
        "the same run), then a request naming an order, the e-mail on it, and a follow-up about "
        f"the verified order. {seconds_total:.0f} s in all.",
        "",
        "| customers at once | turn | turns | p50 | p95 | p95 / baseline p95 | not the expected reply |",
        "|---|---|---|---|---|---|---|",
    ]
    for parallel, (merged, _) in results.items():
        base = p95([s for s, _ in merged["help-centre answer (baseline)"]])
        for kind, values in merged.items():
            times = [s for s, _ in values]
            failed = sum(1 for _, ok in values if not ok)
            lines.append(
                f"| {parallel} | {kind} | {len(values)} | {statistics.median(times):.2f} s | "
                f"{p95(times):.2f} s | {p95(times) / base:.2f} | {failed} |")
    lines += ["", "Each reply is checked for what it must say (the article link, the question for the "
              "e-mail, the order's status, its invoice number); the last column counts replies "
              "without it, the channel's time-out apology included "
              f"(deadline {Settings().reply_deadline_s:.0f} s).", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench_orders.md")
    args = parser.parse_args()

    rasa_port, action_port, store_port = PORTS
    settings, endpoints = throwaway_settings(
        "bench-orders-", rasa_port=rasa_port, action_port=action_port, store_port=store_port,
        store_url="", desk_port=rasa_port + 65)
    var = settings.var_dir
    launcher.check_ports_free(settings)
    servers = [
        launcher.start_store_service(settings, var / "logs"),
        launcher.start_action_server(settings, var / "logs"),
        launcher.start_rasa_server(settings, var / "logs", endpoints,
                                   ROOT / "credentials.yml"),
    ]
    started = time.perf_counter()
    try:
        launcher.wait_until_healthy(servers, timeout_s=240)
        url = f"{settings.rasa_url}/webhooks/rest/webhook"
        conversation(url, 0, "warm-up")  # the first turn of each kind loads what it needs
        results = {1: run_batch(url, args.conversations, 1, "one")}
        results[args.parallel] = run_batch(url, args.conversations * 2, args.parallel, "many")
    finally:
        launcher.stop(servers)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(results, args, time.perf_counter() - started))
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
