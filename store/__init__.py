"""Larkspur's demo order service: the stand-in for a shop's own order system.

A separate program with its own process and its own database. The bot never reads this database:
it talks to the service over the HTTP contract documented in ``store/README.md`` and
``docs/store-openapi.json``, so a real shop can take its place by answering the same routes.

    python -m store serve --port 5060     # seeds the demo data first when the database is empty
    python -m store seed --force          # rebuilds the demo data
    python -m store openapi --out docs/store-openapi.json

Importing this package loads nothing: the web framework and the database are imported by the
modules that need them.
"""
