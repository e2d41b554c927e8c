"""Runs a closed-division submission's code on a worker (queue ``sandbox``): the runners of the job
kinds ``verify`` and ``concealed`` (backend/jobs claims the job and keeps its lease alive).

1. Verification: the code runs in the sandbox on the benchmark's *public* files (what participants
   download); what it writes is compared with the submitted file (``compare_outputs``).
2. Concealed tasks (only when it reproduced): the code runs on each concealed task's allowed
   inputs (its public part); the output is scored here, outside the sandbox, against the task's
   hidden data with the benchmark type's scorer.

Hidden data never enters the sandbox: its inputs come only from ``services.public_inputs_dir`` and
``services.concealed_inputs_dir``. A ``SandboxError`` is the platform's fault (the participant reads
an "internal error" sentence, organizers the detail); anything the program does wrong is the
participant's, reported with the runner's sentence: what it prints (NUL bytes, invalid UTF-8, floods) and
what it writes (too much, JSON nested too deep) is its problem, never a reason to retry the run.
Scratch directories are registered with the sandbox package, so a dead worker's are swept.
"""
from __future__ import annotations

import logging
import traceback
from pathlib import Path

import evaluation
from backend.core.files import UnsafeArchive
from backend.jobs.models import Job
from backend.jobs.worker import Lease
from backend.sandbox import (
    CodeArchiveError, SandboxError, compare_outputs, output_problem, run_in_sandbox, scratch_directory,
)
from evaluation import cache as problem_cache

from . import services
from .models import CodeRun, ConcealedRun, SandboxSettings

log = logging.getLogger(__name__)
R, C = CodeRun.Status, CodeRun.ConcealedStatus


def _text(value: str) -> str:
    """Storable in any database: NUL bytes and lone surrogates escaped (the sandbox escapes its logs;
    this covers sentences quoting the program's output)."""
    return value.replace("\0", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def _with_note(sentence: str, result) -> str:
    return f"{sentence}; {result.log_note}" if result.log_note and result.log_note not in sentence else sentence


def _code_dir(run: CodeRun, scratch: Path) -> Path:
    with run.code.open("rb") as fh:
        data = fh.read()
    return services.unpack_code(data, run.code_name, scratch / "code")


def run_verification(job: Job, lease: Lease) -> None:
    """Runner of the ``verify`` job kind."""
    code_run_id, token = job.subject_id, job.run_token
    run = services.start(code_run_id, services.VERIFY, job)
    if run is None:
        return
    submission = run.submission
    benchmark = submission.benchmark
    config = benchmark.effective_config
    limits = SandboxSettings.for_phase(submission.phase).limits()
    try:
        with scratch_directory("verify") as scratch:
            code_dir = _code_dir(run, scratch)
            inputs = services.sandbox_inputs(services.public_inputs_dir(benchmark), config, scratch / "inputs")
            command, output_name = services.sandbox_command(benchmark.benchmark_type, config)
            result = run_in_sandbox(code_dir, command, inputs, scratch / "out", limits)
            if result.ok:
                expected = services.local_artifact(submission, scratch / "submitted", limits.output_bytes)
                produced = services.produced_artifact(result.output_dir, output_name, expected,
                                                      Path(submission.original_name).suffix.lower())
                same, sentence = compare_outputs(expected, produced)
                status, sentence = (R.REPRODUCED if same else R.NOT_REPRODUCED), _with_note(sentence, result)
            else:
                status, sentence = R.NOT_REPRODUCED, result.message
    except SandboxError as error:
        log.error("code run %s: sandbox error: %s", code_run_id, error)
        services.finish_verification(code_run_id, token, R.FAILED, services.INTERNAL_MESSAGE,
                                     log_text=f"SandboxError: {error}")
    except CodeArchiveError as error:  # checked at upload; only a damaged stored file gets here
        services.finish_verification(code_run_id, token, R.NOT_REPRODUCED, f"the code could not be unpacked: {error}")
    except UnsafeArchive as error:
        services.finish_verification(code_run_id, token, R.NOT_REPRODUCED,
                                     f"the submitted zip cannot be compared with the code's output: {error}")
    except Exception:  # noqa: BLE001 - the participant gets a sentence, organizers the traceback
        log.exception("code run %s: verification crashed", code_run_id)
        services.finish_verification(code_run_id, token, R.FAILED, services.INTERNAL_MESSAGE,
                                     log_text=traceback.format_exc())
    else:
        services.finish_verification(code_run_id, token, status, _text(sentence), result,
                                     log_text=result.platform_log)


def _public_failure(index: int, result) -> str:
    """What the participant may read about a failure on a concealed task: the limit that stopped
    it, never the program's own output (which could print the concealed task's data)."""
    if result.status in ("timeout", "memory", "output_limit", "killed"):
        return f"on concealed task {index}, {result.message}"
    return f"on concealed task {index}, the program exited with status {result.exit_code}"


def run_concealed(job: Job, lease: Lease) -> None:
    """Runner of the ``concealed`` job kind."""
    code_run_id, token = job.subject_id, job.run_token
    run = services.start(code_run_id, services.CONCEALED, job)
    if run is None:
        return
    submission = run.submission
    benchmark = submission.benchmark
    benchmark_type = benchmark.benchmark_type
    suffix = Path(submission.original_name).suffix.lower()
    limits = SandboxSettings.for_phase(submission.phase).limits()
    tasks = list(benchmark.concealed_tasks.all())
    task_runs: list[dict] = []
    platform_log = ""
    status, message = (C.SCORED, f"scored on {len(tasks)} concealed task(s)") if tasks else (C.NONE, "")
    try:
        with scratch_directory("concealed") as scratch:
            code_dir = _code_dir(run, scratch)
            for index, task in enumerate(tasks, start=1):
                if lease.lost:
                    log.info("code run %s: concealed run stopped, it lost its claim", code_run_id)
                    return
                config = task.effective_config
                inputs = services.sandbox_inputs(services.concealed_inputs_dir(task), config, scratch / f"inputs-{index}")
                command, output_name = services.sandbox_command(benchmark_type, config)
                result = run_in_sandbox(code_dir, command, inputs, scratch / f"out-{index}", limits)
                platform_log += result.platform_log
                entry = {"task": task, "stdout": result.stdout, "stderr": result.stderr,
                         "wall_seconds": result.wall_seconds, "cpu_seconds": result.cpu_seconds,
                         "peak_memory_bytes": result.peak_memory_bytes}
                task_runs.append(entry)
                if not result.ok:
                    entry.update(status=ConcealedRun.Status.PROGRAM_FAILED, message=result.message)
                    status, message = C.FAILED, _public_failure(index, result)
                    break
                produced = services.produced_artifact(result.output_dir, output_name, None, suffix)
                unreadable = output_problem(produced)
                if unreadable:
                    entry.update(status=ConcealedRun.Status.INVALID_OUTPUT, message=unreadable)
                    status, message = C.FAILED, f"on concealed task {index}, {unreadable}"
                    break
                # Scored here, outside the sandbox: the hidden part is read only now.
                problem = problem_cache.load_problem(benchmark_type, services.concealed_data_dir(task), config)
                try:
                    solution = benchmark_type.load_submission(problem, produced, config)
                except (evaluation.SubmissionError, RecursionError, MemoryError) as error:
                    entry.update(status=ConcealedRun.Status.INVALID_OUTPUT, message=_text(str(error)))
                    status = C.FAILED
                    message = f"on concealed task {index}, the program's output was not a valid submission"
                    break
                scores = benchmark_type.evaluate(problem, solution, config).scores
                entry.update(status=ConcealedRun.Status.SCORED, scores=scores,
                             message=f"{benchmark_type.primary_metric} = {scores.get(benchmark_type.primary_metric)}")
    except SandboxError as error:
        log.error("code run %s: sandbox error on a concealed task: %s", code_run_id, error)
        services.finish_concealed(code_run_id, token, status=C.FAILED, message=services.INTERNAL_MESSAGE,
                                  task_runs=[], log_text=f"concealed: SandboxError: {error}")
    except evaluation.DataError as error:
        services.finish_concealed(code_run_id, token, status=C.FAILED, message=services.INTERNAL_MESSAGE,
                                  task_runs=[], log_text=f"concealed: DataError: {error}")
    except Exception:  # noqa: BLE001
        log.exception("code run %s: concealed run crashed", code_run_id)
        services.finish_concealed(code_run_id, token, status=C.FAILED, message=services.INTERNAL_MESSAGE,
                                  task_runs=[], log_text="concealed: " + traceback.format_exc())
    else:
        services.finish_concealed(code_run_id, token, status=status, message=_text(message), task_runs=task_runs,
                                  log_text=platform_log)
