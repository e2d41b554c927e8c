"""Scores a submission in its benchmark's pinned evaluation environment, in a subprocess.

A benchmark pinned to an environment other than ``current`` (``Benchmark.environment``, declared in
``evaluation/environments.py``) is scored by that environment's interpreter running the repository's
own evaluation package: ``<venv>/bin/python -m evaluation score <type> --data ... --submission ...
--json``. The worker keeps its claim (heartbeat, cancel checks through ``progress``) while the child
runs, kills the child's process group at the benchmark's time limit or on cancel (and the kernel
kills it if the worker process dies), and stores the scores with the provenance the child reports.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable

from celery.exceptions import SoftTimeLimitExceeded

import evaluation
from backend.challenges.models import Benchmark
from evaluation import environments

from . import services
from .models import Submission

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
_LOG_TAIL = 6000


def is_pinned(benchmark: Benchmark) -> bool:
    """True when the benchmark is scored outside this interpreter."""
    return benchmark.environment != environments.CURRENT


def config_arguments(benchmark: Benchmark) -> list[str]:
    """The benchmark's config overrides as the CLI's ``--key value`` options."""
    benchmark_type = benchmark.benchmark_type
    arguments = []
    for key, value in benchmark.effective_config.items():
        default = benchmark_type.default_config.get(key)
        if value == default:
            continue
        flag = "--" + key.replace("_", "-")
        if isinstance(default, bool):
            arguments += [flag, "true" if value else "false"]
        elif isinstance(default, list):
            arguments += [flag, ",".join(str(item) for item in value)]
        elif isinstance(default, (int, float, str)):
            arguments += [flag, repr(value) if isinstance(value, float) else str(value)]
        else:
            raise ValueError(f"config key {key!r} cannot be passed to a pinned environment's command line")
    return arguments


def _dies_with_this_process(command: list[str]) -> list[str]:
    """If this worker process is killed (OOM, SIGKILL), the kernel kills the scorer too (PR_SET_PDEATHSIG)."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--", *command] if setpriv else command


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-_LOG_TAIL:]
    except OSError:
        return ""


def _invalid_submission_reason(benchmark: Benchmark, path: Path) -> str | None:
    try:
        services.validate_submission_file(benchmark, path)
    except evaluation.SubmissionError as error:
        return f"invalid submission: {error}"
    except Exception:  # noqa: BLE001 - the data itself is broken: the organizers' log says why
        log.exception("re-validating a submission of %s failed", benchmark)
    return None


def score(submission: Submission, token: str, directory: Path, progress: Callable[[float, str], None],
          complete: Callable[..., None]) -> None:
    """Score ``submission`` in its benchmark's environment and hand the result to ``complete(submission,
    token, result, environment)``; a failure is stored with a reason the participant can read."""
    from backend.challenges.services import materialize_benchmark_data

    benchmark = submission.benchmark
    name = benchmark.environment
    try:
        environments.require_built(name)
    except environments.EnvironmentUnavailable as error:
        services.fail_evaluation(submission.pk, token, f"this benchmark cannot be scored yet: {error}")
        return
    problem = benchmark.environment_problem()  # pinned outside the admin (shell, data migration)
    if problem:
        services.fail_evaluation(submission.pk, token, f"this benchmark cannot be scored yet: {problem}")
        return
    data_dir = materialize_benchmark_data(benchmark)
    path = services.local_copy(submission, directory)
    command = environments.evaluation_command(name, [
        "score", benchmark.type_slug, "--data", str(data_dir), "--submission", str(path), "--json",
        *config_arguments(benchmark)])
    out_path, err_path = directory / "stdout.json", directory / "stderr.txt"
    limit = benchmark.effective_time_limit
    progress(0.05, f"scoring in the {name} environment")
    started = time.monotonic()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        # Own session: the time limit or a cancel kills the child and anything it started.
        process = subprocess.Popen(_dies_with_this_process(command), stdout=out, stderr=err,
                                   stdin=subprocess.DEVNULL, env=environments.subprocess_env(name),
                                   start_new_session=True)
        try:
            while True:
                try:
                    # Never past the limit: a limit shorter than the poll interval is still enforced.
                    remaining = limit - (time.monotonic() - started)
                    process.wait(timeout=max(0.05, min(POLL_SECONDS, remaining)))
                    break
                except subprocess.TimeoutExpired:
                    pass
                elapsed = time.monotonic() - started
                if elapsed > limit:
                    raise SoftTimeLimitExceeded()
                # Also raises runner.Cancelled when the run lost its claim.
                progress(min(0.05 + 0.9 * elapsed / limit, 0.95),
                         f"scoring in the {name} environment ({elapsed:.0f} s)")
        finally:
            _kill(process)
    seconds = time.monotonic() - started
    if process.returncode != 0:
        stderr = _tail(err_path)
        log.warning("submission %s: %s scorer exited with %s", submission.pk, name, process.returncode)
        if process.returncode == 2:
            # The CLI's one-line error may name hidden data, so it goes to the log; the participant gets
            # the validator's own sentence when the file itself is at fault.
            reason = _invalid_submission_reason(benchmark, path) or (
                f"the evaluation in the {name} environment rejected the data; "
                "the organizers can see the log and re-run it")
        else:
            reason = (f"an internal error stopped the evaluation in the {name} environment; "
                      "the organizers can see the log and re-run it")
        services.fail_evaluation(submission.pk, token, reason,
                                 f"{' '.join(command)}\nexit status {process.returncode} after {seconds:.1f} s\n{stderr}")
        return
    try:
        payload = json.loads(out_path.read_text())
        result = evaluation.Result(scores=payload["scores"], details=payload.get("details") or {})
        provenance = payload["environment"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        services.fail_evaluation(
            submission.pk, token,
            f"an internal error stopped the evaluation in the {name} environment; the organizers can see the log and re-run it",
            f"unreadable scorer output ({error}):\n{_tail(out_path)}\n{_tail(err_path)}")
        return
    log.info("submission %s: scored in %s in %.1f s", submission.pk, name, seconds)
    complete(submission, token, result, provenance)
