"""The one settings object.

Every setting comes from an environment variable with the ``BOT_`` prefix and has a default that
works on a laptop. Nothing else in the code reads ``os.environ`` for configuration.

This module uses the standard library only: it is imported by the Rasa server (Python 3.10) and by
the action server (Python 3.11) alike.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Optional

ROOT = Path(__file__).resolve().parent.parent


def _as_int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None


def _as_float(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None


class SettingsError(ValueError):
    """A setting has a value that cannot be used; raised at start-up, never in a conversation."""


def _write_new_salt(path: Path) -> None:
    """A random key in ``path``, readable by its owner only. Written aside and linked into place,
    so two processes starting together agree on one key and neither reads a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(aside, path)
    except FileExistsError:
        pass  # another process made it first: use theirs
    finally:
        aside.unlink()


@dataclass(frozen=True)
class Settings:
    # Where things live
    root: Path = ROOT
    var_dir: Path = ROOT / "var"  # databases, logs, pid files (git-ignored)
    models_dir: Path = ROOT / "models"

    # Servers
    host: str = "127.0.0.1"  # interface both servers listen on; 0.0.0.0 to expose them
    rasa_port: int = 5005
    action_port: int = 5055

    # Rasa's tracker store. Default: a SQLite file under var/. PostgreSQL:
    # BOT_TRACKER_URL=postgresql://user:password@host:5432/dbname
    tracker_url: str = ""

    # Conversation log (bot/storage/): every turn, what was retrieved and drafted for it. A
    # database apart from Rasa's tracker store. Default: a SQLite file under var/. PostgreSQL:
    # BOT_LOG_URL=postgresql://user:password@host:5432/dbname (the tracker's database will do).
    log_url: str = ""
    # The key sender ids are hashed with: BOT_LOG_SALT, or else one made on first use in
    # var/log_salt (git-ignored). Keep it secret and keep it: with another key, `logs erase`
    # cannot find a sender's old rows.
    log_salt: str = ""
    log_mask_pii: bool = True  # e-mails, phone and card numbers masked in stored text
    log_deadline_s: float = 1.0  # a reply waits this long for the log; then the turn is spooled

    # Knowledge base (bot/retrieval/)
    articles_dir: Path = ROOT / "knowledge" / "articles"
    embedding_model: str = "packaged:all-MiniLM-L6-v2"  # or any sentence-transformers id / path
    kb_index_type: str = "auto"  # auto (by size), flat, hnsw or ivf
    kb_search_mode: str = "hybrid"  # candidates from dense, bm25 or hybrid (reports/answers.md)
    # Fallback "I don't know" when there is no confidence model: best cosine below this.
    kb_threshold: float = 0.45
    # While the re-ranker is still being trained (a first `make run`, bot/launcher.py), the bot
    # refuses below this instead: the lowest cosine at which 90 % of the calibrate split's
    # unanswerable questions are refused (it refuses 40 % of its answerable ones; at 0.45, 75 % and
    # 10 %). Chosen on those training questions, not on a reported set: a wrong answer is worse
    # than an offer of a person for the 20 minutes the training takes.
    kb_warmup_threshold: float = 0.575
    kb_top_k: int = 5
    # The cross-encoder re-ranker (bot/retrieval/rerank.py): "auto" uses models/reranker when it
    # has been trained (make reranker), "off" keeps the first-stage order; or a folder.
    kb_reranker: str = "auto"
    kb_rerank_top: int = 20  # candidates the re-ranker scores per question
    # The "I don't know" model over several signals (bot/answering/confidence.py): "auto" uses
    # models/confidence.json when it has been fitted, "off" uses kb_threshold alone.
    kb_confidence: str = "auto"
    # Follow-ups ("and for candles?") are searched together with the customer's previous question.
    followup_context: bool = True

    # Guarding the conversation
    max_message_chars: int = 2000  # longer messages are cut to this before NLU and storage
    reply_deadline_s: float = 8.0  # a channel answers with a fallback if the bot takes longer
    action_deadline_s: float = 6.0  # a custom action gives its fallback reply after this

    # Channels (bot/channels/; secrets come from credentials.yml's ${VARS}, never from here)
    credentials: Path = ROOT / "credentials.yml"  # or credentials.deploy.yml: + Slack and WeChat
    slack_api_url: str = "https://slack.com/api/"  # Slack Web API (the tests point it at a fake)
    wechat_api_url: str = "https://api.weixin.qq.com"  # WeChat Official Account API
    wechat_reply_window_s: float = 4.0  # WeChat waits 5 s; a slower answer goes through its API

    # The shop's order system (bot/orders/): the bot looks up, cancels and returns orders through
    # its HTTP contract (docs/store-openapi.json). By default `make run` starts the demo store
    # service (store/) on store_port; point BOT_STORE_URL at your shop's own service and set
    # BOT_STORE_DEMO=false to use that instead.
    store_url: str = ""  # default: the demo store on this machine, http://127.0.0.1:<store_port>
    store_port: int = 5060
    store_demo: bool = True  # `make run` and the integration tests start store/ themselves
    # `make run` trains a missing or out-of-date re-ranker and matcher behind the running bot
    # (bot/launcher.py); off: train them first with `make reranker matcher`.
    background_training: bool = True
    store_timeout_s: float = 2.0  # one request; reads are tried again within action_deadline_s
    verify_max_failures: int = 5  # wrong order number/e-mail pairs in one conversation before a pause
    verify_pause_s: float = 900.0  # how long further tries are refused after that

    # Handing a conversation to a person (bot/handoff/) and the agent desk (bot/desk/)
    # "desk": the built-in agent desk that `make run` starts on desk_port. The inbox interface
    # (bot/handoff/inbox.py) is where another one (Chatwoot...) plugs in.
    handoff_inbox: str = "desk"
    desk_port: int = 5070
    # The key the desk and the Rasa server's desk bridge sign their calls with: BOT_DESK_SECRET,
    # or else one made on first use in var/desk_secret (git-ignored), like the log's salt.
    desk_secret: str = ""
    desk_session_hours: float = 12.0  # an agent's login lasts this long
    desk_cookie_secure: bool = False  # true behind HTTPS: the session cookie is then HTTPS-only
    desk_login_max_failures: int = 10  # wrong passwords in a row before the account waits
    desk_login_lock_s: float = 900.0  # ... this long
    # Live-chat hours from knowledge/FACTS.md ("facts"), or "always" (a desk staffed around the
    # clock; the tests use it so that their replies do not depend on the hour).
    desk_hours: str = "facts"
    desk_minutes_per_customer: float = 3.0  # the expected wait, per customer ahead in the queue
    fallbacks_before_handoff: int = 2  # messages in a row the bot did not understand

    # Answers the team corrected (bot/answering/approved.py), given before the articles to
    # questions close enough to the approved one. "auto": under the matcher fine-tuned to tell
    # rewordings from look-alikes (models/matcher, `make matcher`) when there is one, else under
    # the knowledge base's MiniLM; "off": always the latter; or a matcher folder.
    approved_answers: bool = True
    approved_matcher: str = "auto"
    # The cosine a question needs; 0 means the one chosen on data/corrections/paraphrases_dev.yml
    # for the model in use (the matcher's manifest, or approved.BASE_THRESHOLD; reports/corrections.md).
    approved_threshold: float = 0.0

    # Drafting replies with the fine-tuned generator (bot/generation/)
    # "off" (the default): the bot quotes the answer unit; measured more often right than drafts,
    # and never slower (reports/answers.md). "auto": the latest good run under
    # models/generator/runs (make generator trains one); or a run folder, a local checkpoint or
    # any Hugging Face id.
    generator: str = "off"
    generator_base: str = "packaged:SmolLM2-135M-Instruct"  # what `generator finetune` starts from
    # With "auto", a run trained on other data than today's (the written examples plus the team's
    # corrections: bot/generation/team_data.py) is not used unless this says so; a run named in
    # BOT_GENERATOR is always used, as the operator chose it.
    generator_allow_stale: bool = False
    generator_runtime: str = "auto"  # auto (ctranslate2 on a CPU, transformers on a GPU), transformers, ctranslate2, onnxruntime-genai
    draft_deadline_s: float = 3.0  # a draft slower than this is abandoned for the extractive reply
    draft_max_new_tokens: int = 100
    draft_passages: int = 3  # passages given to the generator
    # With refusals trusted, the drafter refuses only when its refusal is at least this likely
    # (bot/generation/runtimes.py decode(): greedy decoding alone over-refuses); 0 is plain greedy.
    draft_refusal_min_prob: float = 0.5
    # Send the drafter's "I couldn't find that" when search found something? Off: the extractive
    # reply is sent instead, and the retrieval threshold stays the "I don't know"
    # (reports/generator.md has both).
    draft_trust_refusal: bool = False
    draft_support_threshold: float = 0.5  # a drafted sentence needs this MiniLM cosine to a passage sentence (or its words: bot/generation/checks.py)
    # Drafts are decoded by one thread (bot/generation/batcher.py): at most this many a batch, and
    # at most `draft_max_waiting` waiting; a turn that finds more waiting gets the quote at once.
    # 1 on a CPU: CTranslate2 decodes a batch of prompts of unequal length no faster than one by
    # one (reports/bench_drafter.md); transformers (the GPU path) gains from 4 to 8.
    draft_max_batch: int = 1
    # 0: a draft is started only when the model is idle. One draft takes about 2.4 s on 2 cores
    # (reports/bench_drafter.md), so a draft that waits behind another misses the 3 s deadline.
    draft_max_waiting: int = 0
    # Drafting competes with searching for the same cores: with more turns than this under way in
    # the action server, turns are quoted without drafting (bot/services.py answer_async).
    draft_max_in_flight: int = 2
    draft_batch_wait_ms: int = 10  # how long the first draft of a batch waits for others
    # Threads that search and check drafts in the action server (bot/services.py answer_pool), and
    # the threads each of them gives one PyTorch operation (0: PyTorch's default, all cores).
    answer_threads: int = 4
    torch_threads: int = 0
    # Threads for NumPy's BLAS and TensorFlow in the Rasa server (bot/rasa_server.py).
    rasa_threads: int = 1

    def __post_init__(self) -> None:
        if not self.tracker_url:
            object.__setattr__(self, "tracker_url", f"sqlite:///{self.var_dir / 'tracker.db'}")
        if not self.log_url:
            object.__setattr__(self, "log_url", f"sqlite:///{self.var_dir / 'conversations.db'}")
        if self.desk_hours not in ("facts", "always"):
            raise SettingsError("BOT_DESK_HOURS must be facts or always")
        if not self.store_url:
            object.__setattr__(self, "store_url", f"http://{self.client_host}:{self.store_port}")
        if self.store_timeout_s <= 0:
            raise SettingsError("BOT_STORE_TIMEOUT_S must be positive")
        if self.max_message_chars < 1:
            raise SettingsError("BOT_MAX_MESSAGE_CHARS must be at least 1")
        if self.reply_deadline_s <= 0 or self.action_deadline_s <= 0 or self.log_deadline_s <= 0:
            raise SettingsError("deadlines must be positive")

    def sender_salt(self, create: bool = True) -> Optional[str]:
        """The key the conversation log hashes sender ids with: BOT_LOG_SALT, else the one in
        var/log_salt, made there on first use when ``create`` (the action server does; the
        ``logs`` commands only read it). None when there is none and ``create`` is false."""
        if self.log_salt:
            return self.log_salt
        path = self.var_dir / "log_salt"
        if not path.exists() and create:
            _write_new_salt(path)
        if not path.exists():
            return None
        salt = path.read_text().strip()
        if not salt:
            raise SettingsError(f"{path} is empty: restore it, or set BOT_LOG_SALT")
        return salt

    def desk_key(self) -> str:
        """The secret shared by the desk and the Rasa server's desk bridge: BOT_DESK_SECRET, else
        var/desk_secret, made there on first use."""
        if self.desk_secret:
            return self.desk_secret
        path = self.var_dir / "desk_secret"
        if not path.exists():
            _write_new_salt(path)
        key = path.read_text().strip()
        if not key:
            raise SettingsError(f"{path} is empty: delete it, or set BOT_DESK_SECRET")
        return key

    @property
    def rasa_model_path(self) -> Path:
        return self.models_dir / "rasa" / "bot.tar.gz"

    @property
    def kb_dir(self) -> Path:
        """The knowledge-base index and its manifest (built by `python -m bot kb build`)."""
        return self.models_dir / "kb"

    @property
    def reranker_dir(self) -> Path:
        """The fine-tuned re-ranker (made by `python -m bot reranker train`)."""
        if self.kb_reranker not in ("auto", "off"):
            return Path(self.kb_reranker)
        return self.models_dir / "reranker"

    @property
    def matcher_dir(self) -> Path:
        """The approved-answer matcher (made by `python -m bot matcher train`)."""
        if self.approved_matcher not in ("auto", "off"):
            return Path(self.approved_matcher)
        return self.models_dir / "matcher"

    @property
    def nlu_encoder_dir(self) -> Path:
        """MiniLM fine-tuned on our intents (`python -m bot nlu-encoder train`); config.yml's
        MiniLMFeaturizer reads it as `model_dir: models/nlu-encoder`."""
        return self.models_dir / "nlu-encoder"

    @property
    def confidence_path(self) -> Path:
        """The fitted "I don't know" model (made by `python -m bot reranker train`)."""
        if self.kb_confidence not in ("auto", "off"):
            return Path(self.kb_confidence)
        return self.models_dir / "confidence.json"

    @property
    def rasa_url(self) -> str:
        return f"http://{self.client_host}:{self.rasa_port}"

    @property
    def desk_url(self) -> str:
        return f"http://{self.client_host}:{self.desk_port}"

    @property
    def action_url(self) -> str:
        return f"http://{self.client_host}:{self.action_port}"

    @property
    def client_host(self) -> str:
        return "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "Settings":
        """Builds settings from ``BOT_*`` variables (``BOT_RASA_PORT`` sets ``rasa_port``)."""
        environ = os.environ if environ is None else environ
        values = {}
        for field in fields(cls):
            name = f"BOT_{field.name.upper()}"
            if name not in environ:
                continue
            raw = environ[name]
            default = field.default
            if isinstance(default, bool):
                values[field.name] = raw.lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                values[field.name] = _as_int(name, raw)
            elif isinstance(default, float):
                values[field.name] = _as_float(name, raw)
            elif isinstance(default, Path):
                values[field.name] = Path(raw).expanduser().resolve()
            else:
                values[field.name] = raw
        return cls(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built once from the environment."""
    return Settings.from_env()
