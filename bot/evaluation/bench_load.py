"""Many customers at once, drafts off and on, side by side in one run: `make bench-load`.

Starts the action server and the Rasa server the way `make run` does (ports of their own, a
throwaway var/ folder, SQLite), once with extractive replies (`BOT_GENERATOR=off`, the default) and
once with the drafter (the newest good run under models/generator/runs, or `--run`). Each time,
2, 20 and then 50 conversations at once over REST, each of 5 help-centre questions (the drafter's
training questions: this measures time, not quality). Per setting:

    messages/s        answered messages per second of wall time
    p50, p95          seconds from sending a message to its reply
    apologies         replies that were the time-out or failure apology instead of an answer
    drafted           replies that were a checked draft (a "Source:" line) and drafts sent per second
    drafts            what became of the drafts started (the log's drafts table): sent, rejected by a
                      check, late (past the draft deadline), busy (the batcher's queue was full)

Writes reports/bench_load.md with the machine.

    .venv/actions/bin/python -m bot.evaluation.bench_load [--parallel 2 20 50] [--run DIR] [--no-drafts]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import platform
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import List, Optional

from bot import launcher, replies
from bot.answer import SEARCH_FAILED
from bot.evaluation.bench_orders import p95, say
from bot.evaluation.bench_servers import throwaway_settings
from bot.settings import ROOT

PORTS = (25205, 25255)  # Rasa, action server
APOLOGIES = {replies.SOMETHING_WRONG, replies.TOO_SLOW, SEARCH_FAILED}
MESSAGES_PER_CONVERSATION = 5


def questions(n: int) -> List[str]:
    """Answerable help-centre questions from the drafter's training examples."""
    from bot.generation.dataset import TRAIN_DIR, read_written

    written = [w["question"] for w in read_written(ROOT / TRAIN_DIR) if w.get("article") and not w.get("history")]
    return written[:n]


def conversation(url: str, tag: str, i: int, pool: List[str]) -> List[dict]:
    sender = f"load-{tag}-{i}"
    rows = []
    for k in range(MESSAGES_PER_CONVERSATION):
        message = pool[(i * MESSAGES_PER_CONVERSATION + k) % len(pool)]
        try:
            texts, seconds = say(url, sender, message)
        except Exception as e:  # a dropped connection counts as an apology, not a crash of the bench
            rows.append({"seconds": 60.0, "apology": True, "drafted": False, "error": type(e).__name__})
            continue
        text = "\n".join(texts)
        rows.append({"seconds": seconds, "apology": bool(APOLOGIES & set(texts)) or not texts,
                     "drafted": "\nSource: " in text or "\nSources: " in text})
    return rows


def load(url: str, parallel: int, tag: str, pool: List[str]) -> dict:
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as workers:
        rows = [r for rs in workers.map(lambda i: conversation(url, tag, i, pool), range(parallel)) for r in rs]
    wall = time.perf_counter() - started
    times = [r["seconds"] for r in rows]
    drafted = sum(r["drafted"] for r in rows)
    return {"parallel": parallel, "messages": len(rows), "wall_s": wall,
            "messages_per_s": len(rows) / wall, "p50": statistics.median(times), "p95": p95(times),
            "apologies": sum(r["apology"] for r in rows), "drafted": drafted, "drafts_per_s": drafted / wall}


def draft_counts(log_url: str) -> Counter:
    """The drafts logged so far, by what became of them."""
    from sqlalchemy import text

    from bot.storage.db import make_engine

    engine = make_engine(log_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT status, failed_check FROM drafts")).fetchall()
    except Exception:  # no table yet
        return Counter()
    finally:
        engine.dispose()
    return Counter("busy" if (status == "fallback" and check == "drafter busy") else
                   "late" if status == "timeout" else status for status, check in rows)


def run_setting(name: str, generator: str, parallels: List[int], pool: List[str]) -> List[dict]:
    rasa_port, action_port = PORTS
    settings, endpoints = throwaway_settings(
        f"bench-load-{name}-", rasa_port=rasa_port, action_port=action_port, desk_port=rasa_port + 65)
    if generator != "off":
        import dataclasses

        settings = dataclasses.replace(settings, generator=generator)
    var = settings.var_dir
    launcher.check_ports_free(settings)
    servers = [launcher.start_action_server(settings, var / "logs"),
               launcher.start_rasa_server(settings, var / "logs", endpoints, ROOT / "credentials.yml")]
    try:
        launcher.wait_until_healthy(servers, timeout_s=300)
        url = f"{settings.rasa_url}/webhooks/rest/webhook"
        conversation(url, f"{name}-warm", 0, pool)  # the first turns load what they need
        rows = []
        for n in parallels:
            before = draft_counts(settings.log_url)
            row = dict(load(url, n, f"{name}-{n}", pool), setting=name)
            time.sleep(settings.log_deadline_s + 1)  # the last turns' rows are written
            row["drafts"] = dict(draft_counts(settings.log_url) - before)
            rows.append(row)
        return rows
    finally:
        launcher.stop(servers)


def _drafts(counts: Optional[dict]) -> str:
    if not counts:
        return "-"
    return " / ".join(str(counts.get(k, 0)) for k in ("sent", "rejected", "late", "busy"))


def render(rows: List[dict], run: Optional[str], seconds: float) -> str:
    from bot.evaluation.bench_search import machine_info

    info = machine_info()
    lines = [
        "# Many customers at once: drafts off and on",
        "",
        f"`make bench-load` on {info['CPU']}, {os.cpu_count()} CPU cores, CPU only, Python "
        f"{platform.python_version()}; {time.strftime('%Y-%m-%d')}. Through REST, the Rasa server and "
        "the action server started as `make run` starts them (SQLite). Each conversation sends "
        f"{MESSAGES_PER_CONVERSATION} help-centre questions one after the other; all conversations "
        f"run at once. Drafter run: `{run or 'none'}`. {seconds:.0f} s in all.",
        "",
        "| replies | conversations at once | messages | messages/s | p50 | p95 | apologies | drafted | drafts/s | drafts: sent / rejected / late / busy |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['setting']} | {r['parallel']} | {r['messages']} | {r['messages_per_s']:.1f} | "
                     f"{r['p50']:.2f} s | {r['p95']:.2f} s | {r['apologies']} | {r['drafted']} | "
                     f"{r['drafts_per_s']:.2f} | {_drafts(r.get('drafts'))} |")
    lines += ["", "**apologies**: replies that were the time-out or failure apology instead of an answer. "
              "**drafted**: replies that were a checked draft; every other reply was the quoted answer "
              "(the drafter was busy, its draft failed a check, or no drafter). **drafts**: what became "
              "of the drafts started (the log's drafts table): sent, rejected by a check, late (past the "
              "draft deadline), busy (turned away at once: the batcher's queue was full).", ""]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parallel", type=int, nargs="+", default=[2, 20, 50])
    parser.add_argument("--run", default=None, help="drafter run (default: the newest good one)")
    parser.add_argument("--no-drafts", action="store_true", help="extractive replies only")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench_load.md")
    args = parser.parse_args(argv)
    from bot.generation.runs import latest_good
    from bot.settings import get_settings

    run = None if args.no_drafts else args.run or (str(latest_good(get_settings().models_dir) or "") or None)
    pool = questions(400)
    started = time.perf_counter()
    rows = run_setting("extractive", "off", args.parallel, pool)
    if run:
        rows += run_setting("drafts on", run, args.parallel, pool)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(rows, run, time.perf_counter() - started))
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
