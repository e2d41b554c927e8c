"""Offline command line, mirroring the DataPerf evaluation scripts.

    python -m evaluation list
    python -m evaluation score speech-selection --data DIR --submission FILE --train-size 25 --json
    python -m evaluation validate vision-selection --data DIR --submission PATH
    python -m evaluation croissant --data DIR [--type speech-selection] [--name NAME] [--license TEXT]
    python -m evaluation predict --data DIR (--text TEXT | --file ITEM.png|.wav) [--label LABEL] [--json]

Type-specific options are generated from each type's ``default_config`` (``train_size`` becomes
``--train-size``). ``--environment NAME`` runs the same command in that pinned environment
(``evaluation/environments.py``). Bad input prints one line naming the problem and exits with status 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import environments, registry
from .base import EvaluationError, SubmissionError
from .submission_io import clip


def _add_config_options(parser: argparse.ArgumentParser, defaults: dict, helps: dict | None = None) -> None:
    for key, default in defaults.items():
        flag = "--" + key.replace("_", "-")
        text = (helps or {}).get(key)
        if isinstance(default, bool):
            parser.add_argument(flag, dest=key, type=lambda v: v.lower() in ("1", "true", "yes"), default=None,
                                help=f"{text or 'true or false'} (default: {str(default).lower()})")
        elif isinstance(default, (int, float, str)):
            parser.add_argument(flag, dest=key, type=type(default), default=None,
                                help=f"{text + ' ' if text else ''}(default: {default})")
        elif isinstance(default, list):
            parser.add_argument(flag, dest=key, type=lambda v: [s for s in v.split(",") if s], default=None,
                                help=text or "comma-separated list")


def _build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; ``only`` = a built-in slug: build (and import) just that type's options;
    ``""``: no type's options (``croissant``, which imports only the type it describes)."""
    parser = argparse.ArgumentParser(prog="python -m evaluation", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list benchmark types")
    described = commands.add_parser("croissant", help="print the MLCommons Croissant metadata of a data directory")
    described.add_argument("--data", required=True, type=Path, help="benchmark data directory")
    described.add_argument("--type", default=None, metavar="TYPE",
                           help="benchmark type whose hidden files are left out (default: guessed from the layout; "
                                "'none' describes every file)")
    for option in ("name", "description", "url", "license", "citation", "version"):
        described.add_argument(f"--{option}", default=None)
    predict = commands.add_parser("predict", help="the model suite's answer for an item you created (test-set data "
                                  "that declares a raw kind)")
    predict.add_argument("--data", required=True, type=Path, help="test-set data directory")
    item = predict.add_mutually_exclusive_group(required=True)
    item.add_argument("--text", default=None, help="the sentence (NLP)")
    item.add_argument("--file", default=None, type=Path, help="a PNG/JPEG (image, OCR) or WAV (keyword)")
    predict.add_argument("--label", default=None, help="the label you claim: says whether it fools the suite")
    predict.add_argument("--json", action="store_true", help="print the answer as JSON")
    for command in ("score", "validate"):
        sub = commands.add_parser(command, help=f"{command} a submission")
        types = sub.add_subparsers(dest="type", required=True, metavar="TYPE")
        for benchmark in ([registry.get(only)] if only else [] if only == "" else registry.all_types()):
            typed = types.add_parser(benchmark.slug, help=benchmark.title)
            typed.add_argument("--data", required=True, type=Path, help="benchmark data directory")
            typed.add_argument("--submission", required=True, type=Path, help="submission file or directory")
            typed.add_argument("--json", action="store_true", help="print the result as JSON")
            typed.add_argument("--environment", choices=environments.names(), default=None,
                               help="run in this pinned evaluation environment (default: this interpreter)")
            _add_config_options(typed, benchmark.default_config, benchmark.config_help)
    return parser


def _progress_printer(enabled: bool):
    def progress(fraction: float, message: str) -> None:
        if enabled:
            print(f"[{fraction * 100:5.1f}%] {message}", file=sys.stderr, flush=True)
    return progress


def _without_environment_flag(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--environment":
            skip = True
        elif not arg.startswith("--environment="):
            out.append(arg)
    return out


def _run_in_environment(name: str, argv: list[str]) -> int:
    """Re-run this command with the environment's interpreter (the same evaluation code)."""
    try:
        environments.require_built(name)
    except environments.EnvironmentUnavailable as error:
        print(f"error: --environment: {error}", file=sys.stderr)
        return 2
    command = environments.evaluation_command(name, _without_environment_flag(argv))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], command, environments.subprocess_env(name))
    return 2  # not reached


def _config_overrides(benchmark, args: argparse.Namespace) -> dict:
    """The config options given on the command line (the type's defaults fill in the rest)."""
    return {k: getattr(args, k) for k in benchmark.default_config if getattr(args, k, None) is not None}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # `score TYPE ...` / `validate TYPE ...`: import only TYPE's module (a cold command stays light)
    only = argv[1] if len(argv) > 1 and argv[0] in ("score", "validate") \
        and argv[1] in registry.BUILTIN_MODULES else None
    if argv[:1] in (["croissant"], ["predict"]):
        only = ""
    args = _build_parser(only).parse_args(argv)
    environment = getattr(args, "environment", None)
    if environment:
        # refused before starting the environment's interpreter: it could only fail later
        benchmark = registry.get(args.type)
        try:
            config = benchmark.config(_config_overrides(benchmark, args))
        except EvaluationError as error:
            print(f"error: {clip(str(error), 600)}", file=sys.stderr)
            return 2
        problem = environments.incompatibility(environment, benchmark, config)
        if problem:
            print(f"error: --environment: {problem}", file=sys.stderr)
            return 2
    if environment and environment != environments.running_environment() \
            and not environments.get(environment).is_current:
        return _run_in_environment(environment, argv)
    if args.command == "croissant":
        return _croissant(args)
    if args.command == "predict":
        return _predict(args)
    if args.command == "list":
        for benchmark in registry.all_types():
            print(f"{benchmark.slug:28s} {benchmark.kind:22s} {benchmark.title}")
        return 0
    benchmark = registry.get(args.type)
    try:
        config = benchmark.config(_config_overrides(benchmark, args))
        if not args.data.is_dir():
            raise EvaluationError(f"--data: {args.data} is not a directory")
        if not args.submission.exists():
            raise EvaluationError(f"--submission: {args.submission} does not exist")
        problem = benchmark.load_problem(args.data, config)
        solution = benchmark.load_submission(problem, args.submission, config)
        if args.command == "validate":
            print(json.dumps({"valid": True}) if args.json else "submission is valid")
            return 0
        result = benchmark.evaluate(problem, solution, config, _progress_printer(not args.json))
    except EvaluationError as error:
        message = str(error)
        if isinstance(error, SubmissionError) and args.submission.name not in message:
            message = f"{args.submission.name}: {message}"  # a member of an archive: name the archive too
        print(f"error: {clip(message, 600)}", file=sys.stderr)
        return 2
    except (OSError, ValueError, RecursionError, MemoryError) as error:
        # Input our validators did not anticipate: still a sentence, never a traceback.
        print(f"error: {args.submission.name} or the data in {args.data} could not be read "
              f"({type(error).__name__}: {clip(str(error), 200)})", file=sys.stderr)
        return 2
    payload = result.as_dict(benchmark.primary_metric)
    payload["environment"] = environments.provenance()
    if args.json:
        print(json.dumps(payload, indent=2, sort_keys=True))
    else:
        print(f"Score: {payload['score']}")
        print(f"  (environment {payload['environment']['environment']}: "
              f"scikit-learn {payload['environment']['scikit-learn']}, numpy {payload['environment']['numpy']})")
        for key, value in sorted(payload["scores"].items()):
            print(f"  {key}: {value}")
    return 0


def _guess_type(data_dir: Path) -> str | None:
    """The built-in type whose layout ``data_dir`` has (its marker file), None when none matches."""
    markers = {"allowed_training_set.yaml": "speech-selection", "embeddings/train_emb_256_dataperf.parquet":
               "vision-selection", "a.parquet": "valuation", "heldout.csv": "slicing", "meta.json": "test-set",
               "baseline.csv": "training-set"}
    for marker, slug in markers.items():
        if (data_dir / marker).is_file():
            return slug
    if any(data_dir.glob("*_train_*.parquet")) or any(data_dir.glob("embeddings/*_train_*.parquet")):
        return "debugging"
    return None


def _predict(args) -> int:
    from .benchmarks.test_set import TestSetCreation
    from .live_suite import LiveSuite
    from .raw_items import MAX_AUDIO_BYTES, MAX_IMAGE_BYTES, RawItem, load_featurizer

    try:
        if not args.data.is_dir():
            raise EvaluationError(f"--data: {args.data} is not a directory")
        featurizer = load_featurizer(args.data)
        if featurizer is None:
            raise EvaluationError(f"--data: {args.data}/meta.json declares no raw kind; this benchmark takes pool items only")
        if args.text is not None:
            raw = RawItem.of_text(args.text)
        else:
            if featurizer.raw_kind == "text":
                raise EvaluationError("--file: this benchmark takes text items; pass the sentence with --text")
            if not args.file.is_file():
                raise EvaluationError(f"--file: {args.file} does not exist")
            limit = max(MAX_IMAGE_BYTES, MAX_AUDIO_BYTES)
            with open(args.file, "rb") as fh:
                data = fh.read(limit + 1)
            raw = RawItem.of_image(data) if featurizer.raw_kind == "image" else RawItem.of_audio(data)
        x = featurizer(raw)
        benchmark = TestSetCreation()
        config = benchmark.config()
        answer = LiveSuite.from_config(benchmark.load_problem(args.data, config), config).predict(x, label=args.label)
    except EvaluationError as error:
        print(f"error: {clip(str(error), 600)}", file=sys.stderr)
        return 2
    body = answer.as_dict()
    if args.json:
        print(json.dumps(body, indent=2))
        return 0
    for p in body["predictions"]:
        print(f"{p['model']:32s} {p['label']:20s} {p['confidence']:.3f}")
    print(f"majority: {body['majority']}")
    if args.label is not None:
        print(f"fooled: {'yes' if body['fooled'] else 'no'} ({body['wrong_votes']} of {len(body['predictions'])} "
              f"members predict another label than {args.label})")
    return 0


def _croissant(args) -> int:
    from . import croissant

    if not args.data.is_dir():
        print(f"error: --data: {args.data} is not a directory", file=sys.stderr)
        return 2
    slug = args.type or _guess_type(args.data)
    if slug is None:
        print(f"error: --type: cannot tell the benchmark type of {args.data}; name it with --type TYPE "
              f"(or --type none to describe every file)", file=sys.stderr)
        return 2
    try:
        is_hidden = None if slug == "none" else registry.get(slug).is_hidden
    except KeyError as error:
        print(f"error: --type: {error.args[0]}", file=sys.stderr)
        return 2
    try:
        metadata = croissant.describe(args.data, is_hidden=is_hidden, name=args.name, description=args.description,
                                      url=args.url, license=args.license, citation=args.citation,
                                      version=args.version)
    except (OSError, ValueError) as error:
        print(f"error: the data in {args.data} could not be read ({type(error).__name__}: {clip(str(error), 200)})",
              file=sys.stderr)
        return 2
    sys.stdout.write(croissant.dumps(metadata))
    return 0


if __name__ == "__main__":
    sys.exit(main())
