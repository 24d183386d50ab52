"""The bot's view of the shop's order system.

One small interface (``backend.OrderBackend``) with an HTTP implementation (``http``), the parsing
of order numbers, e-mails and postcodes from what customers write (``details``) and the plain
words the bot says about an order (``wording``). A shop connects its own order system by serving
the same HTTP contract (docs/store-openapi.json) or by implementing ``OrderBackend``.

Light at import: the Rasa server's NLU imports ``details``.
"""
