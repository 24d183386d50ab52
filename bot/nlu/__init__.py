"""Rasa NLU pipeline components (loaded by module path from config.yml, run inside the Rasa server).

`cleaning` and `encoder` are plain Python/NumPy and import without Rasa, so they are unit-tested
in the action server's environment; `guard` and `minilm` wrap them as Rasa graph components.
"""
