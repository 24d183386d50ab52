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
    assert summary["deployed_in_scope_accuracy"] >= FLOORS[name]["in_scope"], summary["confusions"][:10]
    assert summary["deployed_oos_caught"] >= FLOORS[name]["oos_caught"]
