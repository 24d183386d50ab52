"""`python -m bot logs ...`: the conversation log from the terminal, a thin skin over log.py.

  logs migrate                         create or update the log's tables
  logs tail [-n 20]                    the last turns
  logs export --since ISO [--format csv|jsonl] [--out FILE]
  logs stats [--since ISO] [--until ISO] [--days 7] [--no-groups] [--json]
                                       containment, fallback and refusal rates, latency, hand-overs;
                                       per day, top intents, unanswered questions grouped by meaning
  logs erase --sender ID [--tracker-url URL]   everything of one sender (a deletion request)
  logs flush                           replay turns spooled while the database was down

Every command takes --db-url; its default and the other defaults (the spool, Rasa's tracker store,
the salt senders are hashed with) are the bot's settings (bot/settings.py: BOT_LOG_URL,
BOT_VAR_DIR, BOT_TRACKER_URL, BOT_LOG_SALT), so the commands read what the running bot writes.
bot/cli.py registers these with ``add_logs_commands(subparsers)``.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Dict, Optional

from bot.settings import get_settings


def _sqlite_path(url: str) -> Optional[Path]:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database)
    return None


def _open_log(args: argparse.Namespace, salt: Optional[str] = None):
    """The log at --db-url, or None after saying why it cannot be opened (exit code 1)."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.storage import migrate
    from bot.storage.db import safe_url, session_factory
    from bot.storage.log import ConversationLog

    path = _sqlite_path(args.db_url)
    if path is not None and not path.exists():
        print(f"error: no conversation log at {path}", file=sys.stderr)
        return None
    try:
        revision = migrate.current(args.db_url)
    except (SQLAlchemyError, ImportError) as e:
        print(f"error: cannot read {safe_url(args.db_url)}: {type(e).__name__}: "
              f"{' '.join(str(e).split())[:300]}", file=sys.stderr)
        return None
    if revision is None:
        print(
            f"error: {safe_url(args.db_url)} holds no conversation log; create it with "
            f"python -m bot logs migrate --db-url '{safe_url(args.db_url)}'",
            file=sys.stderr,
        )
        return None
    return ConversationLog(session_factory(args.db_url), salt=salt)


def _since(args: argparse.Namespace):
    from bot.storage.log import parse_time

    return parse_time(args.since) if args.since else None


def _cmd_migrate(args: argparse.Namespace) -> int:
    from bot.storage import migrate

    path = _sqlite_path(args.db_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(args.db_url, args.revision)
    print(f"conversation log at revision {migrate.current(args.db_url)}")
    return 0


def _cmd_tail(args: argparse.Namespace) -> int:
    log = _open_log(args)
    if log is None:
        return 1
    for row in log.tail(args.n):
        articles = list(dict.fromkeys(r["article_id"] for r in row["retrievals"]))[:3]
        draft = row["drafts"][-1]["status"] if row["drafts"] else "-"
        confidence = f"{row['confidence']:.2f}" if row["confidence"] is not None else "-"
        flags = " ".join(
            f for f, on in (("no-answer", not row["answered"]), ("handoff", row["handoff"])) if on
        )
        print(
            f"{row['created_at']}  {row['channel']}  conv {row['conversation_id']} #{row['seq']}  "
            f"{row['intent'] or '-'} {confidence}  {row['latency_ms']} ms  "
            f"articles {', '.join(articles) or '-'}  "
            f"draft {draft}  {flags}".rstrip()
        )
        for who, text in (("customer", row["user_text"]), ("bot", row["bot_reply"])):
            print(f"    {who + ':':<10}" + text.replace("\n", "\n" + " " * 14))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    log = _open_log(args)
    if log is None:
        return 1
    target = (
        open(args.out, "w", encoding="utf-8", newline="") if args.out else nullcontext(sys.stdout)
    )
    with target as out:
        count = log.export(_since(args), fmt=args.format, out=out)
    print(f"{count} turns exported" + (f" to {args.out}" if args.out else ""), file=sys.stderr)
    return 0


def _print_figures(name: str, figures: Dict[str, Any]) -> None:
    def pct(value: Optional[float]) -> str:
        return "-" if value is None else f"{100 * value:.1f}%"

    def ms(value: Optional[int]) -> str:
        return "-" if value is None else str(value)

    latency = figures["latency_ms"]
    print(
        f"{name:<28} {figures['turns']:>6} {pct(figures['containment']):>12} "
        f"{pct(figures.get('conversation_containment')):>16} {pct(figures['fallback_rate']):>9} "
        f"{pct(figures['refusal_rate']):>8} {ms(latency['p50']):>7} {ms(latency['p95']):>7}"
    )


def _cmd_stats(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from bot.storage.figures import days_up_to
    from bot.storage.log import parse_time

    log = _open_log(args)
    if log is None:
        return 1
    until = parse_time(args.until) if args.until else None
    stats = log.stats(_since(args), until)
    first_day, last_day = days_up_to(args.days, until or datetime.now(timezone.utc))
    period = log.period_report(first_day, last_day, until,
                               embed=None if args.no_groups else _embed)
    if args.json:
        print(json.dumps({**stats, "period": period}, indent=2))
        return 0
    print(f"Conversation log since {stats['since'] or 'the beginning'}"
          + (f" until {stats['until']}" if stats["until"] else "")
          + f": {stats['turns']} turns in {stats['conversations']} conversations")
    print(f"{'':<28} {'turns':>6} {'containment':>12} {'conv. contained':>16} {'fallback':>9} "
          f"{'refusal':>8} {'p50 ms':>7} {'p95 ms':>7}")
    _print_figures("all", stats)
    for channel, figures in stats["by_channel"].items():
        _print_figures(f"channel {channel}", figures)
    for intent, figures in stats["by_intent"].items():
        _print_figures(f"intent {intent}", figures)
    handoffs = stats["handoffs"]
    if handoffs["count"]:
        reasons = ", ".join(f"{k} {v}" for k, v in handoffs["by_reason"].items())
        wait, handle = handoffs["first_reply_wait_s"], handoffs["handle_time_s"]
        print(f"\nHanded to a person: {handoffs['count']} ({reasons}); waiting now "
              f"{handoffs['waiting_now']}; agent replies {handoffs['agent_replies']}")
        print(f"  wait for an agent's first reply: p50 {_seconds(wait['p50'])}, "
              f"p95 {_seconds(wait['p95'])}; queued to handed back or closed: "
              f"p50 {_seconds(handle['p50'])}, p95 {_seconds(handle['p95'])}")
    _print_period(period)
    return 0


def _embed(texts):
    """The knowledge base's MiniLM, loaded on the first call: only when there are unanswered
    questions to group (a few seconds; --no-groups skips it)."""
    from bot import services

    return services.get_embedder(get_settings()).encode(texts)


def _pct(value: Optional[float]) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _day_row(name: str, figures: Dict[str, Any]) -> str:
    latency, drafts = figures["latency_ms"], figures["drafts"]
    return (
        f"{name:<11} {figures['conversations']:>6} {figures['turns']:>6} "
        f"{_pct(figures['containment']):>10} {_pct(figures['handoff_rate']):>8} "
        f"{_pct(figures['refusal_rate']):>8} {_pct(figures['thumbs_up_share']):>10} "
        f"{figures['ratings']:>6} {latency['p50'] if latency['p50'] is not None else '-':>7} "
        f"{latency['p95'] if latency['p95'] is not None else '-':>7}  "
        + "/".join(str(drafts.get(status, 0)) for status in ("sent", "rejected", "timeout",
                                                               "fallback"))
    )


def _print_period(period: Dict[str, Any]) -> None:
    """The dashboard's figures in the terminal: per day, top intents, unanswered groups."""
    span = f"{period['first_day']} to {period['last_day']} (UTC days)"
    print(f"\nPer day, {span}:")
    print(f"{'day':<11} {'conv.':>6} {'turns':>6} {'contained':>10} {'handoff':>8} "
          f"{'refusal':>8} {'thumbs up':>10} {'rated':>6} {'p50 ms':>7} {'p95 ms':>7}  "
          f"drafts sent/rejected/timeout/fallback")
    for day in period["days"]:
        print(_day_row(day["day"], day))
    print(_day_row("all", period["totals"]))

    print(f"\nTop intents, {span}:")
    if not period["top_intents"]:
        print("  (no turns)")
    for row in period["top_intents"]:
        print(f"  {row['intent']:<28} {row['turns']:>6} {_pct(row['share']):>7}   "
              f"contained {_pct(row['containment'])}, refused {_pct(row['refusal_rate'])}")

    unanswered = period["unanswered"]
    print(f"\nUnanswered questions, {span}: {unanswered['questions'] or 'none'}"
          + (f" in {unanswered['group_count']} groups of the same meaning"
             if unanswered["groups"] and unanswered["questions"] else ""))
    if unanswered["groups"] is None:
        if unanswered["questions"]:
            print(f"  ({unanswered['error']})")
        return
    for group in unanswered["groups"]:
        print(f"  {group['count']:>5}  {group['representative']}")
        for example in group["examples"]:
            print(f"{'':<10}also: {example}")
    if unanswered["group_count"] > len(unanswered["groups"]):
        print(f"  ... and {unanswered['group_count'] - len(unanswered['groups'])} smaller groups")


def _seconds(value) -> str:
    return "-" if value is None else f"{value:.0f} s"


def _cmd_erase(args: argparse.Namespace) -> int:
    from bot.storage.log import erase_tracker_events
    from bot.storage.spool import Spool

    settings = get_settings()
    salt = args.salt or settings.sender_salt(create=False)
    if not salt:
        print(
            "error: erase needs the salt the log hashes senders with: BOT_LOG_SALT is not set "
            f"and {settings.var_dir / 'log_salt'} does not exist (or give --salt)",
            file=sys.stderr,
        )
        return 1
    log = _open_log(args, salt=salt)
    if log is None:
        return 1
    counts = log.erase_sender(args.sender)
    if args.spool.exists():
        counts["spool"] = Spool(args.spool).erase_sender_hash(log.sender_hash(args.sender))
    if args.tracker_url:
        counts["events (tracker store)"] = erase_tracker_events(args.tracker_url, args.sender)
    else:
        print("note: --tracker-url '' given: Rasa's tracker store was left alone", file=sys.stderr)
    for table, count in counts.items():
        print(f"{table:<24} {count:>6} rows deleted")
    return 0


def _cmd_flush(args: argparse.Namespace) -> int:
    from bot.storage.spool import Spool

    if not args.spool.exists():
        print(f"nothing spooled ({args.spool} does not exist)")
        return 0
    log = _open_log(args)
    if log is None:
        return 1
    spool = Spool(args.spool)
    replayed = 0
    try:
        for row_id, prepared in spool.oldest(limit=-1):
            log.write(prepared)  # already stored (same record_id): skipped, not duplicated
            spool.remove(row_id)
            replayed += 1
    except Exception as e:
        print(f"error after {replayed} turns: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"{replayed} spooled turns replayed into the conversation log")
    return 0


def add_logs_commands(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Registers `logs tail|export|stats|erase|flush|migrate` on the `python -m bot` parser."""
    settings = get_settings()
    spool = settings.var_dir / "conversations.spool.db"
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db-url", default=settings.log_url,
        help="the conversation log's database (default: BOT_LOG_URL, else "
             "sqlite:///var/conversations.db; PostgreSQL: "
             "postgresql://user:password@host:5432/dbname)",
    )
    raw = argparse.RawDescriptionHelpFormatter

    logs = subparsers.add_parser(
        "logs", help="the conversation log: tail, export, stats, erase, flush, migrate",
        description=__doc__, formatter_class=raw,
    )
    sub = logs.add_subparsers(dest="logs_command", required=True)

    migrate = sub.add_parser(
        "migrate", parents=[common], formatter_class=raw,
        help="create or update the log's tables",
        description="Example: python -m bot logs migrate "
                    "--db-url postgresql://bot:pw@db:5432/larkspur",
    )
    migrate.add_argument("--revision", default="head", help="target revision (default: head)")
    migrate.set_defaults(func=_cmd_migrate)

    tail = sub.add_parser(
        "tail", parents=[common], formatter_class=raw,
        help="show the last turns",
        description="Example: python -m bot logs tail -n 20",
    )
    tail.add_argument("-n", type=int, default=20, help="how many turns (default 20)")
    tail.set_defaults(func=_cmd_tail)

    export = sub.add_parser(
        "export", parents=[common], formatter_class=raw,
        help="export turns as CSV or JSON Lines",
        description="Example: python -m bot logs export --since 2026-11-01 --format csv "
                    "--out november.csv\n\nText is exported masked, senders as their hash.",
    )
    export.add_argument("--since", required=True,
                        help="ISO date or time, UTC unless it says otherwise (2026-11-01T09:00)")
    export.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    export.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    export.set_defaults(func=_cmd_export)

    stats = sub.add_parser(
        "stats", parents=[common], formatter_class=raw,
        help="containment, refusal and hand-over rates, latency, ratings; per channel, intent "
             "and day; unanswered questions grouped by meaning",
        description="Example: python -m bot logs stats --since 2026-11-01 --days 30\n\n"
                    "First the figures from --since (default: the beginning) to --until\n"
                    "(default: now), per channel and per intent; then what the desk's dashboard\n"
                    "shows for the last --days UTC days up to --until: one row per day, the top\n"
                    "intents, and the unanswered questions grouped by meaning (the articles to\n"
                    "write next; grouping loads the knowledge base's MiniLM, a few seconds).\n"
                    "--json prints the same figures, the dashboard's under \"period\".\n"
                    "Definitions: see bot/storage/figures.py and bot/storage/unanswered.py.",
    )
    stats.add_argument("--since", default=None, help="ISO date or time (default: everything)")
    stats.add_argument("--until", default=None,
                       help="ISO date or time, not included (default: now)")
    stats.add_argument("--days", type=int, default=7,
                       help="how many UTC days the per-day figures cover (default 7)")
    stats.add_argument("--no-groups", action="store_true",
                       help="do not group the unanswered questions (no model is loaded)")
    stats.add_argument("--json", action="store_true", help="print the figures as JSON")
    stats.set_defaults(func=_cmd_stats)

    erase = sub.add_parser(
        "erase", parents=[common], formatter_class=raw,
        help="delete everything of one sender (a deletion request)",
        description="Example: python -m bot logs erase --sender 5f2c-user-42\n\n"
                    "Deletes the sender's conversations, turns, retrievals, drafts and feedback,\n"
                    "their spooled turns, and their rows in Rasa's tracker store (table events,\n"
                    "which keeps raw sender ids; --tracker-url, default BOT_TRACKER_URL).",
    )
    erase.add_argument("--sender", required=True, help="the sender id as the channel gave it")
    erase.add_argument("--tracker-url", default=settings.tracker_url,
                       help="Rasa's tracker store database (default: BOT_TRACKER_URL, else "
                            "sqlite:///var/tracker.db; '' to leave it alone)")
    erase.add_argument("--salt", default=None,
                       help="the salt the log hashes senders with (default: BOT_LOG_SALT, "
                            "else var/log_salt)")
    erase.add_argument("--spool", type=Path, default=spool,
                       help="the log's spool file (default: var/conversations.spool.db)")
    erase.set_defaults(func=_cmd_erase)

    flush = sub.add_parser(
        "flush", parents=[common], formatter_class=raw,
        help="replay turns spooled while the database was down",
        description="Example: python -m bot logs flush "
                    "--db-url postgresql://bot:pw@db:5432/larkspur",
    )
    flush.add_argument("--spool", type=Path, default=spool,
                       help="the spool file (default: var/conversations.spool.db)")
    flush.set_defaults(func=_cmd_flush)
