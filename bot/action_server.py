"""The action server: rasa-sdk's, with the conversation log wired in.

    python -m bot.action_server --port 5055        (what bot/launcher.py starts)

Before it serves, it makes sure the log can be written: the salt for sender ids exists and the
log's schema is at the newest migration; a database it cannot reach or migrate stops it here,
with the cause (bad configuration fails at start-up, not in a conversation). Then rasa-sdk's app
runs as usual (its worker process loads the knowledge base, see actions/actions.py), plus:

- the worker opens the log at start, replays turns spooled before a crash, and from then on
  replays the spool every few seconds while anything waits there, so turns kept while the
  database was down arrive without waiting for the next customer;
- ``GET /health/log`` says how the log is: ``{"ok": true, "spooled_count": 0, "last_error":
  null}``, HTTP 200 when ok, 503 when turns wait in the spool or the last write failed.
  ``GET /health`` (rasa-sdk's) stays the readiness check: the bot still answers while its log
  is down.

The main process imports no torch (see actions/actions.py): SQLAlchemy and Alembic only.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from functools import partial
from typing import List, Optional

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import get_settings

logger = logging.getLogger(__name__)

REPLAY_EVERY_S = 5.0
WORKER_ACK_TIMEOUT_S = 150  # within the launcher's wait for /health (bot/launcher.py)


def _configure_logging() -> None:
    """rasa-sdk's log format, in the main process and in each worker (workers are spawned, so
    they do not inherit the main process's configuration)."""
    from rasa_sdk import utils

    utils.configure_colored_logging(logging.INFO)
    utils.update_sanic_log_level()
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its set-up chatter at each start


async def log_health(request: Request) -> HTTPResponse:
    from bot import services

    health = await services.get_conversation_log().health()
    return response.json(health, status=200 if health["ok"] else 503)


async def _replay_spool_forever() -> None:
    from bot import services

    writer = services.get_conversation_log()
    while True:
        try:
            if (await writer.health())["spooled_count"]:
                await writer.flush()
        except Exception:  # the next round tries again; a crash here would stop the replays
            logger.exception("storage.replay_failed")
        await asyncio.sleep(REPLAY_EVERY_S)


async def _open_log(app: Sanic) -> None:
    """In the worker, before the first request: open the log and start the spool's replays."""
    from bot import services

    await asyncio.to_thread(services.get_conversation_log)
    app.add_task(_replay_spool_forever(), name="replay_spool")


def create_app(action_executor) -> Sanic:
    """rasa-sdk's app with the log's health route and start-up; module-level, so that Sanic
    can hand it to its worker processes."""
    from rasa_sdk.endpoint import create_app_for_serve

    _configure_logging()
    app = create_app_for_serve(action_executor)
    app.add_route(log_health, "/health/log", methods=["GET"])
    app.register_listener(_open_log, "before_server_start")
    return app


def prepare_log_database() -> None:
    """The salt and the schema, or SystemExit with the cause."""
    from bot.storage import migrate
    from bot.storage.db import safe_url

    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)  # a SQLite log and the spool live here
    settings.sender_salt()
    try:
        migrate.upgrade(settings.log_url)
    except Exception as e:
        raise SystemExit(
            f"error: cannot prepare the conversation log at {safe_url(settings.log_url)}: "
            f"{type(e).__name__}: {' '.join(str(e).split())[:300]}\n"
            "Check BOT_LOG_URL (and that the database server is up)."
        ) from e


def main(argv: Optional[List[str]] = None) -> int:
    from rasa_sdk import utils
    from rasa_sdk.executor import ActionExecutor
    from sanic.worker.loader import AppLoader

    parser = argparse.ArgumentParser(prog="python -m bot.action_server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=get_settings().action_port)
    parser.add_argument("--actions", default="actions", help="the package of actions")
    args = parser.parse_args(argv)

    _configure_logging()
    prepare_log_database()
    executor = ActionExecutor()
    executor.register_package(args.actions)

    # The worker loads the knowledge base, the re-ranker and the drafter before it tells the main
    # process it is up (actions/actions.py); on 2 busy cores that can take longer than Sanic's 30 s.
    from sanic.worker.manager import WorkerManager
    from sanic.worker.process import WorkerProcess

    WorkerManager.THRESHOLD = WorkerProcess.THRESHOLD = WORKER_ACK_TIMEOUT_S * 10  # tenths of a second
    loader = AppLoader(factory=partial(create_app, executor))
    app = loader.load()
    app.prepare(
        host=get_settings().host, port=args.port, workers=utils.number_of_sanic_workers()
    )
    logger.info("action_server.starting port=%d", args.port)
    Sanic.serve(primary=app, app_loader=loader)
    return 0


if __name__ == "__main__":
    sys.exit(main())
