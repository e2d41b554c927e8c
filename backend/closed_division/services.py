"""Writes of the closed division: taking the code with a submission, the code run's state machine,
re-verification, concealed tasks' data, sandbox settings; and the worker-side helpers that prepare
what the sandbox sees (public inputs only) and find what the program produced.

Code run states (``CodeRun.status``)::

    pending -> running -> reproduced | not_reproduced | failed
    any -> pending                      (organizer: re-verify; the running run, if any, loses its claim)

and, once reproduced and when the benchmark has concealed tasks, ``concealed_status``
``pending -> running -> scored | failed``. Every change happens under a row lock; only the holder of
the current ``run_token`` may write results.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import Callable

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

import evaluation
from backend.challenges.models import Benchmark, DatasetArtifact, Phase
from backend.challenges.services import bump_leaderboard, extract_public_data, split_data_directory
from backend.core import live, uploads
from backend.core.files import safe_extract_zip, sha256_of, zip_files
from backend.jobs import services as jobs
from backend.jobs.models import Job
from backend.leaderboards import services as leaderboard_services
from backend.sandbox import CodeArchiveError, extract_code_archive
from backend.submissions.models import Submission
from backend.submissions.services import SubmissionRejected
from evaluation.starter_kits import get_kit

from .models import CodeRun, ConcealedRun, ConcealedTask, SandboxSettings

R = CodeRun.Status
C = CodeRun.ConcealedStatus

CODE_SUFFIXES = (".zip", ".py")
# Without a starter kit, a submitted program follows this convention (docs/closed-division.md).
DEFAULT_COMMAND = ("python", "run.py", "--input", "/inputs/data", "--output", "/output")
INTERNAL_MESSAGE = ("an internal error of the platform stopped the run; this is not your code's fault, "
                    "the organizers can see the log and re-run it")
# Job kinds (backend/jobs), one per stage; the job machinery owns claims, heartbeats and recovery.
VERIFY, CONCEALED = "verify", "concealed"


class NoCode(Exception):
    """The submission has no code to run (open division)."""


# --- taking the code with a submission ---------------------------------------------------------------

def unpack_code(data: bytes, name: str, dest: Path) -> Path:
    """Write the submitted code to ``dest`` as the sandbox will see it at /code; returns the code root.

    A zip is unpacked safely (its single top-level folder, if any, becomes the root); a single
    ``.py`` file becomes ``run.py``. Raises CodeArchiveError with a sentence for the participant.
    """
    if name.lower().endswith(".py"):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise CodeArchiveError(f"{name} is not UTF-8 text") from None
        dest.mkdir(mode=0o755, parents=True, exist_ok=True)
        dest.chmod(0o755)
        (dest / "run.py").write_bytes(data)
        (dest / "run.py").chmod(0o644)
        return dest
    return extract_code_archive(data, dest)


def check_code_upload(*, phase: Phase, division: str, code_file) -> None:
    """Raise SubmissionRejected (field ``code``) unless ``code_file`` fits the division and can be run."""
    if division != Submission.Division.CLOSED:
        if code_file is not None:
            raise SubmissionRejected("code", "code is only taken in the closed division; choose division 'closed' "
                                             "or leave the code out")
        return
    if code_file is None:
        raise SubmissionRejected("code", "the closed division needs the code that produced the file: a .zip of "
                                         "your starter-kit folder, or a single run.py")
    name = code_file.name or ""
    if not name.lower().endswith(CODE_SUFFIXES):
        raise SubmissionRejected("code", f"{name!r} has the wrong type; upload a .zip or a single .py file")
    if code_file.size == 0:
        raise SubmissionRejected("code", f"{name!r} is empty")
    limit = min(phase.max_upload_mb * 2**20, settings.SUBMISSION_MAX_UPLOAD_BYTES)
    if code_file.size > limit:
        raise SubmissionRejected(
            "code", f"{name!r} is {code_file.size / 2**20:.1f} MiB; the limit is {limit / 2**20:.0f} MiB", 413)
    code_file.seek(0)
    data = code_file.read()
    code_file.seek(0)
    with uploads.copy_directory() as tmp:  # in the spool: swept if this process is killed
        try:
            root = unpack_code(data, name, Path(tmp) / "code")
        except CodeArchiveError as error:
            raise SubmissionRejected("code", str(error)) from None
        if not (root / "run.py").is_file():
            raise SubmissionRejected(
                "code", "the archive has no run.py at its top level (or in its single top-level folder); the "
                        "platform runs `python run.py --input /inputs/data --output ...` as in the starter kits")


def attach_code(submission: Submission, code_file) -> CodeRun:
    """Store the code of a new closed-division submission and queue its verification (after commit).

    Called inside the transaction that creates the submission (``backend.orchestration``)."""
    suffix = Path(code_file.name).suffix.lower()
    run = CodeRun(submission=submission, code_name=Path(code_file.name).name[:255], code_size=code_file.size,
                  code_sha256=sha256_of(code_file), queued_at=timezone.now())
    run.code.save(f"{uuid.uuid4().hex}{suffix}", code_file, save=False)
    run.save()
    _enqueue(run, VERIFY)
    return run


def _enqueue(run: CodeRun, stage: str) -> None:
    """Queue a stage's job in the caller's transaction (published after commit, or by the sweep)."""
    submission = run.submission
    limits = SandboxSettings.for_phase(submission.phase).limits()
    if stage == VERIFY:
        time_limit = int(limits.wall_seconds) + 300
    else:
        per_task = int(limits.wall_seconds) + submission.benchmark.effective_time_limit
        time_limit = per_task * max(1, submission.benchmark.concealed_tasks.count()) + 300
    # No soft limit: the sandbox runner stops the program itself; the hard limit is the last resort
    # (the pool process dies, and bubblewrap with it).
    jobs.enqueue(stage, run.pk, options={"time_limit": time_limit})


def _changed(run: CodeRun) -> None:
    """The run's status changed: its submission's open pages re-read the panel, after commit."""
    live.publish_on_commit(f"submission:{run.submission_id}", {"submission": run.submission_id, "code_run": run.pk})


def reverify(submission: Submission, *, by) -> CodeRun:
    """Organizer: run the code again from scratch (verification, then concealed tasks)."""
    with transaction.atomic():
        run = CodeRun.objects.select_for_update().filter(submission=submission).first()
        if run is None:
            raise NoCode(f"submission {submission.pk} has no code to run (it is not in the closed division)")
        if run.status == R.PENDING:
            return run
        run.status = R.PENDING
        run.concealed_status = C.NONE
        run.message = run.stdout = run.stderr = run.concealed_message = ""
        run.exit_code = run.wall_seconds = run.cpu_seconds = run.peak_memory_bytes = run.concealed_score = None
        run.concealed_metrics = {}
        run.run_token = ""
        run.attempts = 0
        run.queued_at = timezone.now()
        run.started_at = run.heartbeat_at = run.finished_at = run.concealed_finished_at = None
        run.log += f"[{timezone.now():%Y-%m-%d %H:%M:%S}] re-verification requested by {by.username}\n"
        run.save()
        _changed(run)
        run.concealed_runs.all().delete()
        jobs.cancel(CONCEALED, [run.pk])
        bump_leaderboard(submission.phase_id)  # the row is unranked again until the new run reproduces
        leaderboard_services.refresh_for_submission(submission)
        _enqueue(run, VERIFY)
    return run


# --- the run lifecycle (worker side) -----------------------------------------------------------------

def start(code_run_id: int, stage: str, job: Job) -> CodeRun | None:
    """Move the stage of a claimed job to running under the job's run token. None when there is
    nothing to do (finished, re-verified meanwhile, deleted)."""
    field = "status" if stage == VERIFY else "concealed_status"
    with transaction.atomic():
        run = CodeRun.objects.select_for_update().filter(pk=code_run_id).first()
        if run is None or getattr(run, field) not in (R.PENDING, R.RUNNING):
            return None
        now = timezone.now()
        if getattr(run, field) == R.RUNNING:
            run.log += f"[{now:%Y-%m-%d %H:%M:%S}] {stage}: previous run stopped responding; running again\n"
        setattr(run, field, R.RUNNING)
        run.run_token = job.run_token
        run.attempts = job.attempts
        run.heartbeat_at = now
        if stage == VERIFY:
            run.started_at = now
        run.save()
        _changed(run)
        return run


def gave_up(code_run_id: int, job: Job, reason: str) -> None:
    """The job machinery stopped trying a stage (e.g. its worker kept dying): fail it, saying why."""
    stage = job.kind
    field = "status" if stage == VERIFY else "concealed_status"
    with transaction.atomic():
        run = CodeRun.objects.select_for_update().select_related("submission").filter(pk=code_run_id).first()
        if run is None or getattr(run, field) not in (R.PENDING, R.RUNNING):
            return
        now = timezone.now()
        setattr(run, field, R.FAILED)
        sentence = f"the run could not be completed: {reason}; this is not your code's fault, the organizers can re-run it"
        if stage == VERIFY:
            run.message, run.finished_at = sentence, now
        else:
            run.concealed_message, run.concealed_finished_at = sentence, now
        run.log += f"[{now:%Y-%m-%d %H:%M:%S}] {stage}: gave up: {reason}\n"
        run.run_token = ""
        run.save()
        _changed(run)
        bump_leaderboard(run.submission.phase_id)
        leaderboard_services.refresh_for_submission(run.submission)


def finish_verification(code_run_id: int, token: str, status: str, message: str, result=None,
                        log_text: str = "") -> bool:
    """Store the verification outcome once (``result``: the sandbox's RunResult, if it ran). When the
    code reproduced the file and the benchmark has concealed tasks, queue them."""
    with transaction.atomic():
        run = (CodeRun.objects.select_for_update().select_related("submission__benchmark")
               .filter(pk=code_run_id, run_token=token).first())
        if run is None or run.status != R.RUNNING:
            return False
        run.status = status
        run.message = message
        if result is not None:
            run.stdout, run.stderr, run.exit_code = result.stdout, result.stderr, result.exit_code
            run.wall_seconds, run.cpu_seconds = result.wall_seconds, result.cpu_seconds
            run.peak_memory_bytes = result.peak_memory_bytes
        if log_text:
            run.log += log_text if log_text.endswith("\n") else log_text + "\n"
        run.finished_at = timezone.now()
        if status == R.REPRODUCED and run.submission.benchmark.concealed_tasks.exists():
            run.concealed_status = C.PENDING
            run.attempts = 0
            _enqueue(run, CONCEALED)
        run.save()
        _changed(run)
        bump_leaderboard(run.submission.phase_id)
        leaderboard_services.refresh_for_submission(run.submission)  # reproduced or not: rankable or not
    return True


def finish_concealed(code_run_id: int, token: str, *, status: str, message: str, task_runs: list[dict],
                     log_text: str = "") -> bool:
    """Store the concealed tasks' runs and their mean scores once. ``task_runs``: one dict per task
    run, with the ConcealedRun fields (``task``, ``status``, ``scores``, ...)."""
    with transaction.atomic():
        run = CodeRun.objects.select_for_update().filter(pk=code_run_id, run_token=token).first()
        if run is None or run.concealed_status != C.RUNNING:
            return False
        run.concealed_runs.all().delete()
        for entry in task_runs:
            ConcealedRun.objects.create(code_run=run, **entry)
        run.concealed_status = status
        run.concealed_message = message
        if status == C.SCORED:
            run.concealed_metrics = _mean_scores([entry["scores"] for entry in task_runs])
            primary = run.submission.benchmark.benchmark_type.primary_metric
            run.concealed_score = run.concealed_metrics.get(primary)
        if log_text:
            run.log += log_text if log_text.endswith("\n") else log_text + "\n"
        run.concealed_finished_at = timezone.now()
        run.save()
        _changed(run)
        bump_leaderboard(run.submission.phase_id)
    return True


def _mean_scores(per_task: list[dict]) -> dict[str, float | None]:
    keys = sorted({key for scores in per_task for key in scores})
    means = {}
    for key in keys:
        values = [scores[key] for scores in per_task if scores.get(key) is not None]
        means[key] = sum(values) / len(values) if values else None
    return means


# --- what the sandbox sees ---------------------------------------------------------------------------

def _world_readable(root: Path) -> None:
    """Directories 0755, files 0644: the sandbox's unprivileged user must be able to read inputs."""
    root.chmod(0o755)
    for directory, subdirs, files in os.walk(root):
        for name in subdirs:
            Path(directory, name).chmod(0o755)
        for name in files:
            Path(directory, name).chmod(0o644)


def _cached_directory(key: str, fill: Callable[[Path], None]) -> Path:
    """A worker-local directory under EVALUATION_DATA_CACHE named by ``key`` (a content hash),
    filled once; concurrent workers race safely (fill a staging directory, then rename)."""
    cache_root = Path(settings.EVALUATION_DATA_CACHE)
    target = cache_root / key
    if target.is_dir():
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cache_root, prefix=".staging-"))
    try:
        fill(staging)
        _world_readable(staging)
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _hash(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def public_inputs_dir(benchmark: Benchmark) -> Path:
    """The benchmark's public files only (what participants download), unpacked for the sandbox."""
    shas = sorted(benchmark.artifacts.filter(visibility=DatasetArtifact.Visibility.PUBLIC)
                  .values_list("sha256", flat=True))
    return _cached_directory(f"sandbox-public-{_hash(*shas)}", lambda dest: extract_public_data(benchmark, dest))


def _unpack_archives(fields, dest: Path) -> None:
    for field in fields:
        if field:
            with field.open("rb") as fh, zipfile.ZipFile(fh) as archive:
                safe_extract_zip(archive, dest)


def concealed_inputs_dir(task: ConcealedTask) -> Path:
    """The concealed task's allowed inputs only (its public archive), for the sandbox."""
    return _cached_directory(f"sandbox-concealed-{_hash(task.public_sha256)}",
                             lambda dest: _unpack_archives([task.public_archive], dest))


def concealed_data_dir(task: ConcealedTask) -> Path:
    """The concealed task's complete data (allowed inputs + hidden ground truth), for the scorer only."""
    return _cached_directory(f"concealed-{_hash(task.public_sha256, task.hidden_sha256)}",
                             lambda dest: _unpack_archives([task.public_archive, task.hidden_archive], dest))


def sandbox_command(benchmark_type: evaluation.BenchmarkType, config: dict) -> tuple[list[str], str]:
    """(command, what it writes under /output: a file name, or "" for the directory)."""
    try:
        kit = get_kit(benchmark_type.slug)
    except KeyError:
        return list(DEFAULT_COMMAND), ""
    return kit.command(config), kit.output


def sandbox_inputs(data_dir: Path, config: dict, scratch: Path) -> dict[str, Path]:
    """/inputs/data (the public files) and /inputs/config.json (the benchmark's effective config)."""
    scratch.mkdir(parents=True, exist_ok=True)
    config_path = scratch / "config.json"
    config_path.write_text(json.dumps(config, sort_keys=True, indent=2, default=str))
    config_path.chmod(0o644)
    return {"data": data_dir, "config.json": config_path}


def local_artifact(submission: Submission, dest: Path, max_bytes: int) -> Path:
    """The submitted file, copied to ``dest`` under its original name; a .zip is unpacked into a
    directory (its single top-level folder, if any), since programs write the files themselves.
    Raises UnsafeArchive when the zip unpacks to more than ``max_bytes`` (the sandbox's output
    limit: the code could not have produced it)."""
    dest.mkdir(parents=True, exist_ok=True)
    name = Path(submission.original_name).name or f"submission{Path(submission.file.name).suffix}"
    path = dest / name
    with submission.file.open("rb") as src, path.open("wb") as out:
        shutil.copyfileobj(src, out)
    if path.suffix.lower() != ".zip":
        return path
    unpacked = dest / (path.stem or "submission")
    if unpacked == path:
        unpacked = dest / "submission"
    with zipfile.ZipFile(path) as archive:
        safe_extract_zip(archive, unpacked, max_bytes=max_bytes)
    path.unlink()
    entries = [entry for entry in unpacked.iterdir() if entry.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return unpacked


def produced_artifact(output_dir: Path, output_name: str, expected: Path | None, suffix: str) -> Path:
    """Where the program's counterpart of the submitted file is: the kit's output file, the whole
    /output directory (for a zip submission), or the one file of the submission's type in /output."""
    if output_name:
        return output_dir / output_name
    if (expected is not None and expected.is_dir()) or suffix == ".zip":
        return output_dir
    candidates = [p for p in sorted(output_dir.iterdir()) if p.is_file() and not p.is_symlink()
                  and p.suffix.lower() == suffix] if output_dir.is_dir() else []
    if len(candidates) == 1:
        return candidates[0]
    return output_dir / (expected.name if expected is not None else f"submission{suffix}")


# --- concealed tasks (organizers) ---------------------------------------------------------------------

@transaction.atomic
def attach_concealed_data(benchmark: Benchmark, data_dir: Path, *, name: str, config: dict | None = None,
                          order: int = 0) -> ConcealedTask:
    """Create (or replace) the concealed task ``name`` of ``benchmark`` from a data directory in the
    benchmark type's official layout. It is validated by loading it, then split with the type's
    hidden patterns: the public part is what the algorithm gets in the sandbox."""
    benchmark_type = benchmark.benchmark_type
    data_dir = Path(data_dir)
    effective = benchmark_type.config({**benchmark.config, **(config or {})})
    benchmark_type.load_problem(data_dir, effective)  # raises DataError on a bad layout
    public, hidden = split_data_directory(benchmark_type, data_dir)
    if not public:
        raise evaluation.DataError("the concealed task has no public files (the inputs an algorithm may use)")
    task = ConcealedTask.objects.filter(benchmark=benchmark, name=name).first() or ConcealedTask(
        benchmark=benchmark, name=name)
    task.order, task.config = order, config or {}
    slug = uuid.uuid4().hex[:12]
    total = 0
    for field, sha_field, files, label in ((task.public_archive, "public_sha256", public, "public"),
                                           (task.hidden_archive, "hidden_sha256", hidden, "hidden")):
        if not files:
            setattr(task, sha_field, "")
            continue
        content = ContentFile(zip_files(data_dir, files), name=f"{slug}-{label}.zip")
        setattr(task, sha_field, sha256_of(content))
        total += content.size
        field.save(content.name, content, save=False)
    task.size_bytes = total
    task.save()
    return task


def attach_concealed_zip(benchmark: Benchmark, data: bytes, *, name: str, config: dict | None = None,
                         order: int = 0) -> ConcealedTask:
    """Like ``attach_concealed_data`` from a zip of the data directory (admin upload)."""
    with uploads.copy_directory() as tmp:
        root = Path(tmp) / "data"
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                safe_extract_zip(archive, root)
        except zipfile.BadZipFile as error:
            raise evaluation.DataError(f"not a valid zip file ({error})") from None
        entries = list(root.iterdir())
        if len(entries) == 1 and entries[0].is_dir():
            root = entries[0]
        return attach_concealed_data(benchmark, root, name=name, config=config, order=order)


# --- sandbox settings (organizers) --------------------------------------------------------------------

def save_sandbox_settings(sandbox_settings: SandboxSettings) -> SandboxSettings:
    """Save and refresh the phase's leaderboards (the concealed column may appear or disappear)."""
    with transaction.atomic():
        sandbox_settings.full_clean()
        sandbox_settings.save()
        bump_leaderboard(sandbox_settings.phase_id)
    return sandbox_settings
