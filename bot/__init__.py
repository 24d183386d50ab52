"""Larkspur support bot: the library behind the Rasa server, the action server and the CLI.

Sub-packages, each with one job (see the README's "Where things live"):
  settings      the one settings object (stdlib only)
  nlu/          Rasa pipeline components: message guard, MiniLM featurizer (run inside Rasa)
  channels/     Rasa input channels (run inside Rasa; never import torch or faiss)
  storage/      SQL storage (Rasa's tracker store today)
  evaluation/   quality reports (NLU)
  launcher      starts and stops the two servers
  cli           `python -m bot ...`
"""
