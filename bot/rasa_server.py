"""`rasa run`, with what many customers at once need from it (started by bot/launcher.py).

    .venv/rasa/bin/python -m bot.rasa_server run --model models/rasa/bot.tar.gz ...

The Rasa server handles every message on one event loop, so whatever it does per message in
Python limits how many customers it serves. Profiled under 20 conversations at once
(reports/bench_load.md), a third of that loop's time went to checking each action server reply
against Rasa's JSON schema: `jsonschema.validate()` first validates the *schema* itself against
the JSON Schema metaschema, on every call. Here the validator is built once and reused; the reply
is checked against the same schema, and an invalid one is refused with the same error as before.

Native libraries get one thread each (NumPy's BLAS, TensorFlow): the loop runs one message's NLU at
a time anyway, and on a 2-core machine shared with the action server, extra threads that spin
while waiting for work take cores from it. ``BOT_RASA_THREADS`` changes that (bot/settings.py).

Everything else is Rasa's own `rasa` command (rasa/__main__.py).
"""

from __future__ import annotations

import os
import sys


def limit_threads(threads: str) -> None:
    """Before NumPy and TensorFlow load: their thread pools read these once."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                 "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(name, threads)


def reuse_the_action_reply_validator() -> None:
    """RemoteAction checks replies with one validator built once (see the module docstring)."""
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)  # once, as validate() did on every call
    validator = cls(schema)

    def _validate_action_result(self, result) -> bool:
        error = best_match(validator.iter_errors(result))  # what validate() raises, as it does
        if error is None:
            return True
        error.message += (
            ". Failed to validate Action server response from API, make sure your response "
            f"from the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error

    RemoteAction._validate_action_result = _validate_action_result


def main() -> None:
    from bot.settings import get_settings

    limit_threads(str(get_settings().rasa_threads))
    reuse_the_action_reply_validator()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
