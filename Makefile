# Larkspur support bot. `make help` lists the commands.
SHELL := /bin/bash
.DEFAULT_GOAL := help

RASA_ENV := .venv/rasa
ACT_ENV  := .venv/actions
RASA     := $(RASA_ENV)/bin/rasa
RASA_PY  := $(RASA_ENV)/bin/python
ACT_PY   := $(ACT_ENV)/bin/python
MODEL    := models/rasa/bot.tar.gz
KB       := models/kb/manifest.json
RERANKER := models/reranker/manifest.json
MATCHER  := models/matcher/manifest.json
NLU_ENCODER := models/nlu-encoder/manifest.json
WIDGET   := web/vendor/rasa-webchat.js
DESK_ASSETS := bot/desk/static/vendor/chart.umd.js

# Nothing is downloaded at run time, and Rasa sends no telemetry.
export RASA_TELEMETRY_ENABLED := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TF_CPP_MIN_LOG_LEVEL := 2

# data/generator holds the drafter's examples, not Rasa's (Rasa reads only files with nlu/stories/rules keys).
TRAIN_INPUTS := config.yml domain.yml $(shell find data -name '*.yml' -not -path 'data/generator/*') $(wildcard bot/nlu/*.py)

.PHONY: help venvs train kb reranker matcher webchat desk-assets generator run shell test nlu-report nlu-compare eval eval-generator eval-retrieval eval-corrections bench bench-orders bench-desk bench-load bench-drafter clean

help: ## Show this help
	@echo "Larkspur support bot"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-15s %s\n", $$1, $$2}'

venvs: $(RASA_ENV)/.installed $(ACT_ENV)/.installed ## Create both virtual environments (idempotent)

$(RASA_ENV)/.installed: requirements/rasa.lock requirements/rasa.nodeps
	scripts/make-venv 3.10 $(RASA_ENV) rasa

$(ACT_ENV)/.installed: requirements/actions.lock requirements/actions.nodeps
	scripts/make-venv 3.11 $(ACT_ENV) actions

train: $(MODEL) ## Train the Rasa model (only when data/, config.yml or domain.yml changed)

# MiniLM fine-tuned on data/nlu (torch, actions environment; about 4 min on 2 cores), for the
# pipelines that read it (bot/evaluation/pipelines/tuned_head.yml). Skipped when current.
$(NLU_ENCODER): $(wildcard data/nlu/*.yml) bot/nlu/encoder_train.py | venvs
	$(ACT_PY) -m bot nlu-encoder train
	@touch $(NLU_ENCODER)

$(MODEL): $(TRAIN_INPUTS) | venvs
	$(RASA) train --config config.yml --domain domain.yml --data data --out models/rasa --fixed-model-name bot
	@touch $(MODEL)

kb: $(KB) ## Build the knowledge-base index (only new or changed articles are embedded)

$(KB): $(wildcard knowledge/articles/*.md) | venvs
	$(ACT_PY) -m bot kb build

reranker: $(RERANKER) ## Train the re-ranker and fit the "I don't know" model (CPU: about 5 min, once)

$(RERANKER): $(KB) $(wildcard data/generator/*.yml) $(wildcard data/corrections/paraphrases_train_*.yml) bot/retrieval/rerank.py bot/retrieval/rerank_train.py | venvs
	$(ACT_PY) -m bot reranker train

webchat: $(WIDGET) ## Vendor the web chat widget from npm (package-lock.json) into web/vendor/

$(WIDGET): package.json package-lock.json scripts/vendor-webchat
	scripts/vendor-webchat

desk-assets: $(DESK_ASSETS) ## Vendor Chart.js from npm (package-lock.json) into bot/desk/static/vendor/ for the dashboard

# After the widget: both scripts install node_modules from the same lock, never both at once.
$(DESK_ASSETS): package.json package-lock.json scripts/vendor-desk-assets | $(WIDGET)
	scripts/vendor-desk-assets

matcher: $(MATCHER) ## Train the approved-answer matcher and choose its threshold on the dev set (CPU: a few min, once)

$(MATCHER): $(wildcard data/corrections/*.yml) bot/answering/matcher.py bot/answering/matcher_train.py bot/answering/matching_sets.py bot/answering/contrast.py | venvs
	$(ACT_PY) -m bot matcher train

generator: venvs $(RERANKER) ## Fine-tune the reply drafter (opt-in: BOT_GENERATOR=auto; CPU: up to ~30 min, once)
	$(ACT_PY) -m bot generator ensure

# The re-ranker and the matcher are not waited for: the launcher trains them behind the running
# bot when they are missing or out of date, and the action server swaps them in (bot/launcher.py).
run: venvs $(MODEL) $(KB) $(WIDGET) $(DESK_ASSETS) ## Start the store, action server, Rasa server and desk; prints where to talk to the bot
	@$(ACT_PY) -m bot run

shell: venvs $(MODEL) $(KB) $(RERANKER) $(MATCHER) ## Talk to the bot in the terminal (rasa shell against the action server)
	@$(ACT_PY) -m bot shell

test: venvs $(MODEL) $(KB) $(RERANKER) $(MATCHER) $(WIDGET) $(DESK_ASSETS) ## Validate the data, run the test stories and pytest (with the NLU floors on both held-out sets)
	$(RASA) data validate --config config.yml --domain domain.yml --data data
	$(RASA) test core --model $(MODEL) --stories tests/stories --out reports/rasa-core --fail-on-prediction-errors
	@$(ACT_PY) -m pytest tests; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; exit $$rc

nlu-report: venvs $(MODEL) ## The held-out NLU sets: accuracy, macro-F1, confusions, threshold sweep, order-number P/R -> reports/nlu*.md
	$(RASA_PY) -m bot nlu-report --model $(MODEL) --data tests/nlu/heldout.yml --out reports/nlu.md
	$(RASA_PY) -m bot nlu-report --model $(MODEL) --data tests/nlu/heldout_voices.yml --out reports/nlu_voices.md \
	  --title "NLU on the held-out set in other voices"
	$(RASA_PY) -m bot nlu-report --model $(MODEL) --data tests/nlu/heldout_orders.yml --out reports/nlu_orders.md \
	  --title "NLU on the held-out order-flow set (order numbers and e-mails)"

nlu-compare: venvs $(NLU_ENCODER) ## Train and compare the candidate NLU pipelines -> reports/nlu_pipelines.md
	$(RASA_PY) -m bot.evaluation.compare_pipelines

eval: venvs $(KB) $(RERANKER) ## Are the answers right? correct/false/refused, re-ranking, refusal curve, checks -> reports/answers.md
	$(ACT_PY) -m bot.evaluation.answers_report

eval-generator: venvs $(KB) $(RERANKER) ## Drafter side by side (base, fine-tuned, extractive; F1 and CPU latency) -> reports/generator.md
	$(ACT_PY) -m bot.evaluation.generator_report

eval-retrieval: venvs $(KB) ## Search quality (recall@1/5, MRR, unanswerable detection) -> reports/retrieval.md
	$(ACT_PY) -m bot.evaluation.retrieval_report

bench: venvs ## Vector-search speed, FAISS vs NumPy vs torch (and GPU if present) -> reports/bench_search.md
	$(ACT_PY) -m bot.evaluation.bench_search

bench-orders: venvs $(MODEL) $(KB) $(RERANKER) ## Order-form turns against help-centre answers, 1 and 10 customers at once -> reports/bench_orders.md
	$(ACT_PY) -m bot.evaluation.bench_orders

eval-corrections: venvs $(KB) $(MATCHER) ## Approved answers: the threshold chosen on the dev paraphrases, reported on held-out ones -> reports/corrections.md
	$(ACT_PY) -m bot.evaluation.corrections_report

bench-desk: venvs $(MODEL) $(KB) $(RERANKER) ## Hand-over to the desk's queue, and an agent's reply to the widget, against a bot answer -> reports/bench_desk.md
	$(ACT_PY) -m bot.evaluation.bench_desk

bench-load: venvs $(MODEL) $(KB) $(RERANKER) ## 2, 20 and 50 customers at once over REST, drafts off and on side by side -> reports/bench_load.md
	$(ACT_PY) -m bot.evaluation.bench_load

bench-drafter: venvs $(KB) $(RERANKER) ## The drafter's runtimes (correctness, latency) and batching (drafts/s) -> reports/bench_drafter.md
	$(ACT_PY) -m bot.evaluation.bench_drafter

clean: ## Remove trained models and local data (var/); keeps the environments
	rm -rf models/rasa models/nlu-encoder models/kb models/reranker models/matcher models/confidence.json models/generator var reports/rasa-core
