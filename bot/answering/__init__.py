"""The one answer policy: what the bot says to a support question, used by the bot and by `make eval`.

  followup.py     a message that only makes sense after the previous one ("and for candles?")
  confidence.py   "I don't know": a small calibrated model over the search signals
  calibrate.py    fits it on training questions the re-ranker never saw
  policy.py       refuse, quote (extractive) or draft: one function, respond()
"""
