"""SQL storage.

  rasa_tracker.py  Rasa's tracker store configured by one URL (runs inside the Rasa server,
                   SQLAlchemy 1.4 there)
  models.py, db.py, migrations/, migrate.py
                   the conversation log's tables, engine/session factory and Alembic migrations
                   (action server side, SQLAlchemy 2)
  log.py           ConversationLog: record a turn in one transaction, tail, export, stats, erase
  spool.py         DurableLog: a local spool when the database is down, replayed in order
  writer.py        TurnWriter: how the action server records a turn within the reply's deadline
  privacy.py       sender hashing and masking of e-mails, phone and card numbers
  logs_cli.py      `python -m bot logs ...`

The action server writes a turn for every reply (actions/turn_log.py, bot/action_server.py).
"""
