"""`python -m bot desk ...` and `python -m bot agents ...`: the desk from the terminal.

  desk serve [--host H] [--port P]                 the agent desk (default: the settings')
  agents add USERNAME [--name "Ana"] [--role agent|admin]   the password from BOT_DESK_PASSWORD,
                                                   else asked twice
  agents list                                      who may log in, and who is locked out

The database is the conversation log's (BOT_LOG_URL); both commands bring its schema up to date
first. bot/cli.py registers these with ``add_desk_commands(subparsers)``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import datetime, timezone
from typing import Optional

from bot.settings import Settings, get_settings

PASSWORD_ENV = "BOT_DESK_PASSWORD"  # for scripts; a secret typed once, so not a setting


def _migrated(settings: Settings) -> str:
    """The log database's URL, its schema brought to the newest revision (a SQLite file's
    folder is made if needed)."""
    from sqlalchemy.engine import make_url

    from bot.storage import migrate

    url = settings.log_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
    migrate.upgrade(url)
    return url


def serve(settings: Settings, host: Optional[str] = None, port: Optional[int] = None) -> int:
    """Runs the desk with uvicorn until interrupted."""
    import uvicorn

    from bot.desk.app import create_app

    _migrated(settings)
    app = create_app(settings)
    uvicorn.run(app, host=host or settings.host, port=port or settings.desk_port,
                log_config=None)  # logging is set up by bot/cli.py's main()
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    return serve(get_settings(), args.host, args.port)


def _password(environ=os.environ) -> Optional[str]:
    given = environ.get(PASSWORD_ENV)
    if given is not None:
        return given
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        print("error: the two passwords differ", file=sys.stderr)
        return None
    return first


def _cmd_agents_add(args: argparse.Namespace) -> int:
    from bot.desk import auth
    from bot.desk.web import writing
    from bot.storage.db import session_factory

    settings = get_settings()
    password = _password()
    if password is None:
        return 1
    try:
        auth.check_new_agent(args.username, password, args.role)  # before touching the database
        sessions = session_factory(_migrated(settings))
        try:
            with writing(sessions) as session:
                agent = auth.create_agent(session, args.username, password,
                                          display_name=args.name or "", role=args.role,
                                          now=datetime.now(timezone.utc))
                username, role = agent.username, agent.role
        finally:
            sessions.kw["bind"].dispose()
    except auth.AgentError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"Added {role} {username}; they log in at {settings.desk_url}/login")
    return 0


def _cmd_agents_list(args: argparse.Namespace) -> int:
    from bot.desk import auth
    from bot.desk.text import full_time
    from bot.storage import migrate
    from bot.storage.db import session_factory

    url = get_settings().log_url
    if migrate.current(url) is None:
        print("No agents yet (no desk tables): python -m bot agents add USERNAME --role admin")
        return 0
    sessions = session_factory(url)
    try:
        with sessions() as session:
            agents = auth.list_agents(session)
    finally:
        sessions.kw["bind"].dispose()
    if not agents:
        print("No agents yet: python -m bot agents add USERNAME --role admin")
        return 0
    now = datetime.now(timezone.utc)
    print(f"{'username':<20} {'role':<6} {'active':<6} {'last login':<24} name")
    for a in agents:
        locked = "  (locked)" if a.locked_until and a.locked_until > now else ""
        print(f"{a.username:<20} {a.role:<6} {'yes' if a.active else 'no':<6} "
              f"{full_time(a.last_login_at) or '-':<24} {a.display_name}{locked}")
    return 0


def add_desk_commands(sub: "argparse._SubParsersAction") -> None:
    desk = sub.add_parser("desk", help="the agent desk, where people answer handed-over chats")
    desk_sub = desk.add_subparsers(dest="desk_command", required=True)
    run = desk_sub.add_parser(
        "serve", help="run the agent desk (web application)",
        description="Example: python -m bot desk serve --port 5070",
    )
    run.add_argument("--host", default=None, help="interface (default: BOT_HOST)")
    run.add_argument("--port", type=int, default=None, help="port (default: BOT_DESK_PORT, 5070)")
    run.set_defaults(func=_cmd_serve)

    agents = sub.add_parser("agents", help="the desk's agents: add, list")
    agents_sub = agents.add_subparsers(dest="agents_command", required=True)
    add = agents_sub.add_parser(
        "add", help="add an agent who may log in to the desk",
        description=f"Example: python -m bot agents add ana --name 'Ana Lima' --role admin "
                    f"(the password from {PASSWORD_ENV}, else asked twice; at least 10 characters)",
    )
    add.add_argument("username")
    add.add_argument("--name", default=None, help="display name (default: the username)")
    add.add_argument("--role", choices=["agent", "admin"], default="agent")
    add.set_defaults(func=_cmd_agents_add)
    listing = agents_sub.add_parser("list", help="list the agents",
                                    description="Example: python -m bot agents list")
    listing.set_defaults(func=_cmd_agents_list)
