"""The trained Rasa model must understand customers on both held-out NLU sets (reports/nlu*.md).

The real model (models/rasa/bot.tar.gz) parses every message in the Rasa environment; the sets
were never trained on (tests/nlu/heldout.yml by the team, tests/nlu/heldout_voices.yml by a
writer who saw only docs/taxonomy.md). Scored as deployed: the fallback threshold of config.yml
applies. Floors sit a little under what was measured; the issue's goals are 0.90 both ways.
"""

import json
import subprocess

import pytest

from bot.settings import get_settings

# The goals (0.90 both ways on both sets). Measured 2026-12-01 for this pipeline at its
# threshold (reports/nlu_pipelines.md, diet_ngrams_minilm): in scope 0.939 and 0.954, out of scope
# caught 0.963 and 0.918.
FLOORS = {
    "heldout": {"in_scope": 0.90, "oos_caught": 0.90},
    "heldout_voices": {"in_scope": 0.90, "oos_caught": 0.90},
    # The order flows' set (no out-of-scope messages in it): details given on their own,
    # requests naming an order, and leaving or confirming. Measured 2026-12-01: in scope 0.926,
    # order numbers precision 0.994 and recall 1.000, e-mails 1.000 / 1.000 (reports/nlu_orders.md).
    "heldout_orders": {"in_scope": 0.88, "order_number": 0.97, "email": 0.97},
}


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_intents_as_deployed(name, tmp_path):
    settings = get_settings()
    model = settings.rasa_model_path
    if not model.exists():
        pytest.skip("no trained Rasa model: make train")
    out = tmp_path / "summary.json"
    subprocess.run(
        [str(settings.root / ".venv" / "rasa" / "bin" / "python"), "-m", "bot", "nlu-report", "--model", str(model),
         "--data", f"tests/nlu/{name}.yml", "--out", str(tmp_path / "report.md"), "--json", str(out)],
        check=True, cwd=settings.root, timeout=900,
    )
    summary = json.loads(out.read_text())
    floors = FLOORS[name]
    assert summary["deployed_in_scope_accuracy"] >= floors["in_scope"], summary["confusions"][:10]
    if "oos_caught" in floors:
        assert summary["deployed_oos_caught"] >= floors["oos_caught"]
    for entity in ("order_number", "email"):
        if entity in floors:  # extracted as the forms use them: precision and recall
            scores = summary["entities"][entity]
            assert min(scores["precision"], scores["recall"]) >= floors[entity], scores
