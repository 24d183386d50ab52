"""bot/rasa_server.py: the action reply check reused, not dropped. Runs in the Rasa environment
(Python 3.10), as the server does."""

from __future__ import annotations

import subprocess

import pytest

from bot.settings import ROOT

RASA_PYTHON = ROOT / ".venv" / "rasa" / "bin" / "python"

SCRIPT = """
from bot.rasa_server import reuse_the_action_reply_validator
reuse_the_action_reply_validator()
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
check = RemoteAction._validate_action_result
good = {"events": [{"event": "slot", "name": "handoff_offered", "value": False}],
        "responses": [{"text": "Refunds to PayPal take 3-5 business days."}]}
assert check(None, good) is True
for bad in ({"events": "not a list"}, {"responses": ["not an object"]},
            {"events": [{"event": "slot", "name": 3}]}):
    try:
        check(None, bad)
    except ValidationError as e:
        assert "Failed to validate Action server response" in e.message, e.message
    else:
        raise SystemExit(f"accepted {bad}")
print("ok")
"""


def test_the_rasa_server_still_refuses_a_malformed_action_reply():
    if not RASA_PYTHON.exists():
        pytest.fail("no Rasa environment: make venvs")
    out = subprocess.run([str(RASA_PYTHON), "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
