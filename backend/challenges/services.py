"""Writes of challenges and their data, and unpacking benchmark data for workers."""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F

import evaluation
from backend.accounts.services import grant_organizer_access, revoke_unused_organizer_access
from backend.core import live, uploads
from backend.core.errors import Rejected
from backend.core.files import UnsafeArchive, safe_extract_zip, sha256_of, zip_files
from evaluation import croissant
from evaluation.croissant import FILE_NAME as CROISSANT_FILE
from evaluation.croissant import dumps as croissant_dumps

from .models import Benchmark, Challenge, DatasetArtifact, Phase


def bump_leaderboard(*phase_ids: int) -> None:
    """The phases' leaderboards changed (a score, a verification, a setting): cached boards keyed by
    the old version are never read again. The one place that bumps ``leaderboard_version``."""
    Phase.objects.filter(pk__in=phase_ids).update(leaderboard_version=F("leaderboard_version") + 1)
    for phase_id in phase_ids:  # open pages hear of it after commit: the phase id and its new version only
        live.publish_on_commit(f"phase:{phase_id}", lambda phase_id=phase_id: {
            "version": Phase.objects.filter(pk=phase_id).values_list("leaderboard_version", flat=True).first()})


def split_data_directory(benchmark_type: evaluation.BenchmarkType, data_dir: Path) -> tuple[list[str], list[str]]:
    """Return (public, hidden) relative file paths, using the type's hidden patterns."""
    files = sorted(str(p.relative_to(data_dir)).replace(os.sep, "/") for p in data_dir.rglob("*") if p.is_file())
    hidden = [f for f in files if benchmark_type.is_hidden(f)]
    public = [f for f in files if f not in set(hidden)]
    return public, hidden


@transaction.atomic
def attach_data_directory(benchmark: Benchmark, data_dir: Path) -> list[DatasetArtifact]:
    """Replace a benchmark's data with the files of ``data_dir`` (official layout), split into a
    public and a hidden archive. The data is validated by loading it first."""
    benchmark_type = benchmark.benchmark_type
    summarize_data(benchmark, Path(data_dir))
    public, hidden = split_data_directory(benchmark_type, Path(data_dir))
    # The public download carries its Croissant description (generated from the public files only).
    croissant_file = {CROISSANT_FILE: croissant_dumps(croissant_metadata(benchmark, Path(data_dir))).encode()}
    benchmark.artifacts.all().delete()
    created = []
    for visibility, files in ((DatasetArtifact.Visibility.PUBLIC, public), (DatasetArtifact.Visibility.HIDDEN, hidden)):
        extra = croissant_file if visibility == DatasetArtifact.Visibility.PUBLIC else None
        if not files and not extra:
            continue
        content = zip_files(Path(data_dir), files, extra)
        created.append(create_artifact(benchmark, visibility, f"{benchmark.slug}-{visibility}.zip", content))
    return created


def summarize_data(benchmark: Benchmark, data_dir: Path) -> None:
    """Load the benchmark's data as a worker would (raises ``evaluation.DataError`` naming what is wrong)
    and store its public-safe summary for the benchmark page."""
    config = benchmark.effective_config
    problem = benchmark.benchmark_type.load_problem(Path(data_dir), config)
    benchmark.data_summary = benchmark.benchmark_type.data_summary(problem, config)
    benchmark.save(update_fields=["data_summary"])


def check_attached_data(benchmark: Benchmark) -> str | None:
    """After archives were uploaded in the admin: unpack them as a worker does and load them. Returns
    None when they load (the summary is refreshed), else a sentence for the organizer: without this check
    broken archives were accepted silently and every submission failed at scoring time."""
    try:
        summarize_data(benchmark, materialize_benchmark_data(benchmark))
    except evaluation.DataError as error:
        return f"the attached data does not load: {error}"
    except (zipfile.BadZipFile, UnsafeArchive, OSError) as error:
        return f"an attached archive cannot be unpacked: {error}"
    return None


def benchmark_path(benchmark: Benchmark) -> str:
    return f"/challenges/{benchmark.challenge.slug}/{benchmark.slug}/"


def croissant_metadata(benchmark: Benchmark, data_dir: Path) -> dict:
    """MLCommons Croissant metadata of the benchmark's PUBLIC files in ``data_dir`` (the type's hidden
    patterns drop the rest before anything is read). Name and description come from the benchmark and
    its challenge; license and citation from the data's ``SOURCE.json`` (docs/datasets.md)."""
    benchmark_type = benchmark.benchmark_type
    description = benchmark.description.strip() or f"{benchmark_type.title} benchmark of {benchmark.challenge.title}."
    keywords = ["DataPerf", benchmark_type.kind, benchmark_type.title] + ([benchmark.task] if benchmark.task else [])
    # datePublished from the challenge, not the files' times: the same data gives the same archive hash.
    return croissant.describe(
        Path(data_dir), is_hidden=benchmark_type.is_hidden, name=f"{benchmark.challenge.title}: {benchmark.title}",
        description=description, url=benchmark_path(benchmark), keywords=keywords,
        date_published=benchmark.challenge.created_at.date().isoformat())


def croissant_json(benchmark: Benchmark) -> bytes:
    """The ``croissant.json`` of the benchmark's public download: the one the public archive carries,
    else (data attached before the archives carried one) generated from the unpacked public data,
    cached per data version. Raises LookupError when the benchmark has no public data."""
    from django.core.cache import cache

    artifacts = list(benchmark.artifacts.filter(visibility=DatasetArtifact.Visibility.PUBLIC))
    if not artifacts:
        raise LookupError("This benchmark has no public data.")
    for artifact in artifacts:
        with artifact.file.open("rb") as fh, zipfile.ZipFile(fh) as zf:
            if CROISSANT_FILE in zf.namelist():
                return zf.read(CROISSANT_FILE)
    key = f"croissant:{benchmark.pk}:{data_version(benchmark)}"
    cached = cache.get(key)
    if cached is None:
        with uploads.copy_directory() as tmp:
            public = extract_public_data(benchmark, Path(tmp) / "data")
            cached = croissant_dumps(croissant_metadata(benchmark, public)).encode()
        cache.set(key, cached, 24 * 3600)
    return cached


def create_artifact(benchmark: Benchmark, visibility: str, name: str, content: bytes) -> DatasetArtifact:
    artifact = DatasetArtifact(benchmark=benchmark, visibility=visibility)
    file = ContentFile(content, name=name)
    artifact.sha256 = sha256_of(file)
    artifact.size_bytes = len(content)
    artifact.file.save(name, file, save=False)
    artifact.save()
    return artifact


def fill_artifact_checksum(artifact: DatasetArtifact) -> None:
    """For artifacts uploaded through the admin: compute hash and size from the file. The upload is
    not stored yet when the admin calls this, and saving the model reads it again: the file is left
    open and rewound (a ``with`` block here closed it, and the save failed with "I/O operation on
    closed file")."""
    file = artifact.file
    if file._committed:  # already in storage (another field changed): read it and close it again
        with file.open("rb") as fh:
            artifact.sha256 = sha256_of(fh)
        artifact.size_bytes = file.size
        return
    file.open("rb")
    artifact.sha256 = sha256_of(file)  # rewinds before and after
    artifact.size_bytes = file.size


def data_version(benchmark: Benchmark) -> str:
    digest = hashlib.sha256()
    for sha in sorted(benchmark.artifacts.values_list("sha256", flat=True)):
        digest.update(sha.encode())
    return digest.hexdigest()[:32]


def materialize_benchmark_data(benchmark: Benchmark) -> Path:
    """Unpack the benchmark's public and hidden archives into a local directory named by their
    content hash (a worker-local cache). Safe under concurrent workers: unpack to a temp dir, then rename."""
    cache_root = Path(settings.EVALUATION_DATA_CACHE)
    target = cache_root / data_version(benchmark)
    if target.is_dir():
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cache_root, prefix=".staging-"))
    try:
        for artifact in benchmark.artifacts.all():
            with artifact.file.open("rb") as fh, zipfile.ZipFile(fh) as zf:
                safe_extract_zip(zf, staging)
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():  # someone else won the race only if the target now exists
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


@transaction.atomic
def add_hidden_file(benchmark: Benchmark, relative_path: str, content: bytes) -> DatasetArtifact:
    """Add one file to the benchmark's hidden data (a new hidden archive replaces the old one, so the
    data version changes and workers unpack it afresh). Refuses to overwrite an existing file."""
    old = benchmark.artifacts.filter(visibility=DatasetArtifact.Visibility.HIDDEN).first()
    files: dict[str, bytes] = {}
    if old is not None:
        with old.file.open("rb") as fh, zipfile.ZipFile(fh) as zf:
            files = {info.filename: zf.read(info) for info in zf.infolist() if not info.is_dir()}
    if relative_path in files:
        raise ValueError(f"{relative_path} already exists in the hidden data")
    files[relative_path] = content
    with uploads.copy_directory() as tmp:
        for name, data in files.items():
            (Path(tmp) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / name).write_bytes(data)
        archive = zip_files(Path(tmp), list(files))
    if old is not None:
        old.delete()
    return create_artifact(benchmark, DatasetArtifact.Visibility.HIDDEN, f"{benchmark.slug}-hidden.zip", archive)


def extract_public_data(benchmark: Benchmark, dest: Path) -> Path:
    """Unpack only the public archives (what a participant downloads) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for artifact in benchmark.artifacts.filter(visibility=DatasetArtifact.Visibility.PUBLIC):
        with artifact.file.open("rb") as fh, zipfile.ZipFile(fh) as zf:
            safe_extract_zip(zf, dest)
    return dest


@transaction.atomic
def publish_challenge(challenge: Challenge) -> None:
    challenge.status = Challenge.Status.PUBLISHED
    challenge.save(update_fields=["status"])


def sample_submission(benchmark: Benchmark) -> tuple[str, bytes]:
    """(file name, bytes) of a valid sample submission built from the benchmark's *public* data
    (``evaluation.samples``: the type's random baseline), cached per data version and config.
    Raises LookupError when the benchmark has no public data."""
    import json

    from django.core.cache import cache

    from evaluation.samples import write_sample

    if not benchmark.artifacts.filter(visibility=DatasetArtifact.Visibility.PUBLIC).exists():
        raise LookupError("This benchmark has no public data to build a sample from.")
    config = benchmark.effective_config
    key = "sample-submission:" + hashlib.sha256(json.dumps(
        [data_version(benchmark), benchmark.type_slug, config], sort_keys=True, default=str).encode()).hexdigest()[:40]
    cached = cache.get(key)
    if cached is not None:
        return cached
    with uploads.copy_directory() as tmp:
        public = extract_public_data(benchmark, Path(tmp) / "data")
        path = write_sample(benchmark.type_slug, public, Path(tmp) / "out" / f"{benchmark.slug}-sample-submission",
                            config)
        result = (path.name, path.read_bytes())
    cache.set(key, result, 24 * 3600)
    return result


# --- people: a challenge's organizers and annotators ------------------------------------------------

class PeopleRejected(Rejected):
    """A change to a challenge's people the platform refuses."""


PEOPLE_ROLES = ("annotator", "organizer")


def add_person(challenge: Challenge, *, username: str, role: str):
    """Add a user (by username) to the challenge's annotators or organizers. A co-organizer gets the
    organizer role and the admin (staff status and the organizers' permissions), where re-runs, data
    and publishing are; the admin shows them only the challenges they organize."""
    from backend.accounts.models import User

    if role not in PEOPLE_ROLES:
        raise PeopleRejected("role", f"unknown role {role!r}; use 'annotator' or 'organizer'")
    username = (username or "").strip()
    if not username:
        raise PeopleRejected("username", "enter the username of an existing account")
    user = User.objects.filter(username__iexact=username, is_active=True).first()
    if user is None:
        raise PeopleRejected("username", f"no active account is named {username!r}; they sign up first", 404)
    members = challenge.annotators if role == "annotator" else challenge.organizers
    if members.filter(pk=user.pk).exists():
        raise PeopleRejected("username", f"{user.username} is already {'an annotator' if role == 'annotator' else 'an organizer'} "
                                         "of this challenge", 409)
    with transaction.atomic():
        members.add(user)
        if role == "organizer":
            grant_organizer_access(user)
    return user


def remove_person(challenge: Challenge, *, user_id: int, role: str, by) -> None:
    """Remove an annotator or co-organizer. A challenge always keeps at least one organizer. Votes an
    annotator already cast stay (they are part of the verdicts)."""
    if role not in PEOPLE_ROLES:
        raise PeopleRejected("role", f"unknown role {role!r}; use 'annotator' or 'organizer'")
    with transaction.atomic():
        Challenge.objects.select_for_update().get(pk=challenge.pk)
        members = challenge.annotators if role == "annotator" else challenge.organizers
        user = members.filter(pk=user_id).first()
        if user is None:
            raise PeopleRejected("user", f"that user is not {'an annotator' if role == 'annotator' else 'an organizer'} "
                                         "of this challenge", 404)
        if role == "organizer" and challenge.organizers.count() <= 1:
            raise PeopleRejected("user", "a challenge needs at least one organizer; add another one first", 409)
        members.remove(user)
        if role == "organizer":
            revoke_unused_organizer_access(user)
