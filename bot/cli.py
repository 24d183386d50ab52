"""`python -m bot ...`: a thin skin over the library.

  python -m bot run          start the action server and the Rasa server (make run)
  python -m bot shell        talk to the bot in the terminal (make shell)
  python -m bot kb build     build the knowledge-base index (only changed articles are embedded)
  python -m bot kb search Q  search the knowledge base
  python -m bot reranker train   the re-ranker and the "I don't know" model (make reranker)
  python -m bot matcher train    the approved-answer matcher and its threshold (make matcher)
  python -m bot nlu-encoder train  MiniLM fine-tuned on our intents, for the Rasa pipeline (make train)
  python -m bot logs ...     the SQL conversation log: tail, export, stats, erase, flush, migrate
  python -m bot generator ... the reply drafter: data, finetune, ensure, draft
  python -m bot desk serve   the agent desk (web application, on BOT_DESK_PORT)
  python -m bot agents ...   the desk's agents: add, list
  python -m bot nlu-report   held-out NLU accuracy, macro-F1, confusions, threshold sweep
                             (runs in the Rasa environment: make nlu-report)
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

from bot.settings import get_settings


def _cmd_run(args: argparse.Namespace) -> int:
    from bot.launcher import run_forever

    return run_forever(get_settings())


def _cmd_shell(args: argparse.Namespace) -> int:
    """rasa shell against the running action server; starts one (and the demo store service) for
    the session if none runs."""
    from bot import launcher

    settings = get_settings()
    started: List[launcher.Server] = []
    try:
        if settings.store_demo and not launcher.is_healthy(f"{settings.store_url}/health"):
            print("No store service is running; starting the demo store for this shell...",
                  flush=True)
            started.append(launcher.start_store_service(settings, settings.var_dir / "logs"))
        if not launcher.is_healthy(f"{settings.action_url}/health"):
            print("No action server is running; starting one for this shell...", flush=True)
            started.append(launcher.start_action_server(settings, settings.var_dir / "logs"))
        launcher.wait_until_healthy(started, timeout_s=60)
        rasa = settings.root / launcher.RASA_VENV / "bin" / "rasa"
        env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", HF_HUB_OFFLINE="1")
        return subprocess.call(
            [
                str(rasa), "shell",
                "--model", str(settings.rasa_model_path),
                "--endpoints", str(settings.root / "endpoints.yml"),
                "--port", str(args.port),
            ],
            cwd=settings.root,
            env=env,
        )
    except launcher.StartupError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        launcher.stop(started)


def _cmd_kb_build(args: argparse.Namespace) -> int:
    from bot.retrieval.embedder import Embedder
    from bot.retrieval.index import build_index

    settings = get_settings()
    report = build_index(
        settings.articles_dir,
        settings.kb_dir,
        Embedder(settings.embedding_model),
        index_type=args.index_type or settings.kb_index_type,
    )
    print(
        f"Knowledge base: {report.passages} passages from {report.articles} articles "
        f"({report.embedded_articles} embedded, {report.reused_articles} unchanged), "
        f"{report.index_type} index, {report.seconds:.1f} s -> {settings.kb_dir}"
    )
    return 0


def _cmd_kb_search(args: argparse.Namespace) -> int:
    from bot.answering.policy import search
    from bot.services import components

    parts = components(with_drafter=False)
    parts.top_k = args.k
    searched = search(parts, args.query)
    result = searched.result
    judge = "the confidence model" if parts.confidence else "the cosine threshold"
    verdict = "answers" if searched.answers else "refuses (nothing relevant)"
    print(f"{judge}: p={searched.probability:.2f} -> the bot {verdict}")
    for hit in result.hits:
        rerank = "" if hit.rerank is None else f" rerank {hit.rerank:.3f}"
        print(f"{hit.rank}. cos {hit.score:.3f}{rerank}  {hit.article_id}  {hit.title} / {hit.heading or '(intro)'}")
        print(f"   {hit.url}")
        print("   " + hit.text[:200].replace("\n", " ") + ("..." if len(hit.text) > 200 else ""))
    return 0


def _cmd_reranker_train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from bot.retrieval.embedder import resolve_model_path
    from bot.retrieval.rerank import Reranker
    from bot.retrieval.rerank_train import Recipe, train
    from bot.services import get_retriever

    settings = get_settings()
    if settings.kb_reranker == "off":
        print("BOT_KB_RERANKER=off: nothing to train")
        return 0
    recipe = Recipe() if args.max_minutes is None else replace(Recipe(), max_minutes=args.max_minutes)
    # Candidates for the training pairs come from the first stage; an old re-ranker is not loaded.
    retriever = get_retriever(replace(settings, kb_reranker="off"))
    manifest = train(retriever, resolve_model_path(args.base or settings.embedding_model),
                     settings.reranker_dir, recipe, settings.root)
    print(f"Re-ranker: {manifest['data']['pairs']} pairs from {manifest['data']['questions']} questions, "
          f"{manifest['steps']} steps in {manifest['seconds']:.0f} s -> {settings.reranker_dir}")
    retriever.reranker = Reranker(settings.reranker_dir)
    return _fit_confidence(retriever, settings)


def _cmd_reranker_fit_confidence(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from bot.services import get_retriever

    settings = get_settings()
    retriever = get_retriever(replace(settings, kb_confidence="off"))
    if retriever.reranker is None:
        print("no re-ranker: train one first with `python -m bot reranker train`")
        return 1
    return _fit_confidence(retriever, settings)


def _fit_confidence(retriever, settings) -> int:
    from bot.answering.calibrate import fit_and_save

    model = fit_and_save(retriever, settings.confidence_path, settings.root)
    chosen = model.meta["cv"]["chosen"]
    print(f"Confidence model: threshold {model.threshold:.2f} (cross-validated: "
          f"{chosen['unanswerable_refused']:.0%} of unanswerable refused, "
          f"{chosen['answerable_refused']:.0%} of answerable) -> {settings.confidence_path}")
    return 0


def _cmd_matcher_train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from bot.answering.matcher_train import Recipe, train
    from bot.retrieval.embedder import resolve_model_path

    settings = get_settings()
    recipe = Recipe() if args.max_minutes is None else replace(Recipe(), max_minutes=args.max_minutes)
    manifest = train(resolve_model_path(args.base or settings.embedding_model),
                     settings.matcher_dir, settings.root, recipe)
    dev = manifest["threshold_chosen_on"]
    print(f"Matcher: {manifest['data']['groups']} groups, {manifest['steps']} steps in "
          f"{manifest['seconds']:.0f} s; threshold {manifest['threshold']:.2f} (dev: "
          f"{dev['hit']:.1%} of rewordings answered, {dev['false']:.1%} wrong) -> {settings.matcher_dir}")
    return 0


def _cmd_nlu_encoder_train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from bot.nlu.encoder import packaged_model_dir
    from bot.nlu.encoder_train import Recipe, is_current, read_nlu, train

    settings = get_settings()
    data = Path(args.data) if args.data else settings.root / "data" / "nlu"
    examples = read_nlu(sorted(data.glob("*.yml")) if data.is_dir() else [data])
    out = Path(args.out) if args.out else settings.nlu_encoder_dir
    if not args.force and is_current(out, examples):
        print(f"NLU encoder: {out} is current for {data} (--force retrains)")
        return 0
    recipe = Recipe() if args.max_minutes is None else replace(Recipe(), max_minutes=args.max_minutes)
    manifest = train(Path(args.base) if args.base else packaged_model_dir(), out, examples, recipe)
    print(f"NLU encoder: {manifest['data']['examples']} examples, {manifest['steps']} steps in "
          f"{manifest['seconds']:.0f} s -> {out}")
    return 0


def _cmd_nlu_report(args: argparse.Namespace) -> int:
    from bot.evaluation.nlu_report import main as report_main

    return report_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start both servers and wait (Ctrl-C stops them)")
    run.set_defaults(func=_cmd_run)

    shell = sub.add_parser("shell", help="talk to the bot in the terminal")
    shell.add_argument("--port", type=int, default=5006,
                       help="port for the shell's own Rasa process (default 5006)")
    shell.set_defaults(func=_cmd_shell)

    kb = sub.add_parser("kb", help="the knowledge base: build, search")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    build = kb_sub.add_parser(
        "build", help="build the index", description="Example: python -m bot kb build"
    )
    build.add_argument("--index-type", choices=["auto", "flat", "hnsw", "ivf"], default=None)
    build.set_defaults(func=_cmd_kb_build)
    search = kb_sub.add_parser(
        "search", help="search the index",
        description="Example: python -m bot kb search 'how long does a refund to PayPal take'",
    )
    search.add_argument("query")
    search.add_argument("-k", type=int, default=5)
    search.set_defaults(func=_cmd_kb_search)

    reranker = sub.add_parser("reranker", help="the cross-encoder re-ranker and the \"I don't know\" model")
    reranker_sub = reranker.add_subparsers(dest="reranker_command", required=True)
    train = reranker_sub.add_parser(
        "train", help="fine-tune the re-ranker from MiniLM and fit the confidence model for it",
        description="Example: python -m bot reranker train --max-minutes 10",
    )
    train.add_argument("--max-minutes", type=float, default=None, help="training time budget")
    train.add_argument("--base", default=None, help="model to start from (default: the embedding model)")
    train.set_defaults(func=_cmd_reranker_train)
    refit = reranker_sub.add_parser(
        "fit-confidence", help="fit the \"I don't know\" model again for the trained re-ranker",
        description="Example: python -m bot reranker fit-confidence",
    )
    refit.set_defaults(func=_cmd_reranker_fit_confidence)

    matcher = sub.add_parser("matcher", help="the approved-answer matcher (rewordings vs look-alikes)")
    matcher_sub = matcher.add_subparsers(dest="matcher_command", required=True)
    matcher_train = matcher_sub.add_parser(
        "train", help="fine-tune the matcher from MiniLM and choose its threshold on the dev set",
        description="Example: python -m bot matcher train --max-minutes 5",
    )
    matcher_train.add_argument("--max-minutes", type=float, default=None, help="training time budget")
    matcher_train.add_argument("--base", default=None, help="model to start from (default: the embedding model)")
    matcher_train.set_defaults(func=_cmd_matcher_train)

    encoder = sub.add_parser("nlu-encoder", help="the MiniLM encoder fine-tuned on our intents (make train)")
    encoder_sub = encoder.add_subparsers(dest="nlu_encoder_command", required=True)
    encoder_train = encoder_sub.add_parser(
        "train", help="fine-tune MiniLM on data/nlu (skipped when the saved one is current)",
        description="Example: python -m bot nlu-encoder train --force",
    )
    encoder_train.add_argument("--force", action="store_true", help="retrain even when current")
    encoder_train.add_argument("--max-minutes", type=float, default=None, help="training time budget")
    encoder_train.add_argument("--base", default=None, help="model to start from (default: the packaged MiniLM)")
    encoder_train.add_argument("--data", default=None, help="NLU file or folder (default: data/nlu)")
    encoder_train.add_argument("--out", default=None, help="where to save it (default: models/nlu-encoder)")
    encoder_train.set_defaults(func=_cmd_nlu_encoder_train)

    from bot.storage.logs_cli import add_logs_commands

    add_logs_commands(sub)

    from bot.generation.cli import add_generator_commands

    add_generator_commands(sub)

    from bot.desk.cli import add_desk_commands

    add_desk_commands(sub)

    report = sub.add_parser(
        "nlu-report",
        help="evaluate a Rasa model on the held-out NLU set",
        description="Example: python -m bot nlu-report --model models/rasa/bot.tar.gz "
                    "--data tests/nlu/heldout.yml --out reports/nlu.md",
    )
    report.add_argument("--model", type=Path, default=None, help="Rasa model (.tar.gz)")
    report.add_argument("--data", type=Path, default=Path("tests/nlu/heldout.yml"))
    report.add_argument("--out", type=Path, default=Path("reports/nlu.md"))
    report.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    report.add_argument("--title", default="NLU on the held-out set")
    report.set_defaults(func=_cmd_nlu_report)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for noisy in ("bm25s", "faiss.loader", "sentence_transformers", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    return args.func(args)
