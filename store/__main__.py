"""The command line: a thin skin over the library.

python -m store serve --port 5060 [--host 127.0.0.1] [--reseed]
python -m store seed [--force]
python -m store openapi --out docs/store-openapi.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import List, Optional

log = logging.getLogger("store")


def _seed(force: bool) -> int:
    from store import clock, db, seed
    from store.settings import get_store_settings

    settings = get_store_settings()
    engine = db.make_engine(settings)
    if seed.has_data(engine) and not force:
        print("the store already has data; `python -m store seed --force` rebuilds it", file=sys.stderr)
        return 1
    counts = seed.seed_database(engine, clock.now(settings), settings.seed)
    print(f"seeded: {counts['customers']} customers, {counts['orders']} orders (seed {settings.seed})")
    return 0


def _serve(host: str, port: int, reseed: bool) -> int:
    import uvicorn

    from store import clock, db, seed
    from store.app import create_app
    from store.settings import get_store_settings

    settings = get_store_settings()
    engine = db.make_engine(settings)
    if reseed or not seed.has_data(engine):
        counts = seed.seed_database(engine, clock.now(settings), settings.seed)
        log.info("store.seeded_at_start orders=%s", counts["orders"])
    engine.dispose()
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
    return 0


def _openapi(out: Path) -> int:
    import tempfile

    from store.app import create_app
    from store.settings import StoreSettings

    # The document does not depend on data: build the app on a throwaway database.
    with tempfile.TemporaryDirectory() as tmp:
        settings = StoreSettings(db_url=f"sqlite:///{tmp}/openapi.db", secret="openapi", var_dir=Path(tmp))
        app = create_app(settings)
        document = app.openapi()
        app.state.engine.dispose()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m store", description="Larkspur's demo order service.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="run the service (seeds an empty database first)",
        description="Example: python -m store serve --port 5060",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5060)
    serve.add_argument(
        "--reseed", action="store_true", help="rebuild the demo data against the current clock first"
    )
    seed = commands.add_parser(
        "seed", help="build the demo data", description="Example: python -m store seed --force"
    )
    seed.add_argument("--force", action="store_true", help="replace the data that is there")
    openapi = commands.add_parser(
        "openapi",
        help="write the OpenAPI document",
        description="Example: python -m store openapi --out docs/store-openapi.json",
    )
    openapi.add_argument("--out", type=Path, default=Path("docs/store-openapi.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.command == "serve":
        return _serve(args.host, args.port, args.reseed)
    if args.command == "seed":
        return _seed(args.force)
    return _openapi(args.out)


if __name__ == "__main__":
    sys.exit(main())
