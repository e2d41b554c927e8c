"""Items participants create on a test-set benchmark's page (model-in-the-loop, Dynabench style).

A participant writes a sentence, draws a picture or records a clip; the suite answers live (the
prediction API); they claim a label and submit. ``create_item`` stores the raw form and the
server-computed features as a ``CreatedItem`` (item id ``created-<pk>``) and submits it as a normal
test-set submission with one line (same phase, limits and quota as any other submission, through
``submit_test_set``). From there everything is the pool items' path: the worker scores it (its
problem holds the created items: ``extend_problem``, registered by ``backend.orchestration`` on
``submissions.services.load_benchmark_problem``), the scored submission is ingested into a target,
annotators verify it, credit is split, and the ratchet can promote it.

Only the creator (their team), the challenge's annotators and its organizers reach the raw item
(``raw_item_for``); everyone else gets 404. Only the creator's entrant may propose a created item
(``check_ownership``, on every upload).
"""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.db.models import Count, Max, Q
from django.http import Http404

from backend.accounts.models import Team, User
from backend.challenges import selectors as challenge_selectors
from backend.challenges.models import Benchmark
from backend.challenges.services import data_version
from backend.submissions.models import Submission
from backend.submissions.services import SubmissionRejected, problem_for_upload
from evaluation.benchmarks import test_set

from .models import CreatedItem
from .services import VerificationRejected, is_test_set, submit_test_set

log = logging.getLogger(__name__)
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "audio/wav": "wav"}


# --- the problem with created items (every load of a test-set benchmark's problem) -----------------

_cache_lock = threading.Lock()
_extended: dict[int, tuple[int, tuple, test_set.TestSetProblem]] = {}   # benchmark pk -> (id(base), signature, problem)


def extend_problem(benchmark: Benchmark, problem):
    """The benchmark's problem with its created items appended (a copy; the cached pool problem is not
    changed). Rebuilt only when the benchmark's created items or its data changed: one small query
    otherwise. Items whose features do not fit the data (a new data version with other features) are
    left out of the index, with a log line."""
    if not isinstance(problem, test_set.TestSetProblem):
        return problem
    items = CreatedItem.objects.filter(benchmark_id=benchmark.pk)
    summary = items.aggregate(n=Count("id"), last=Max("id"), at=Max("created_at"))
    if not summary["n"]:
        return problem
    signature = (summary["n"], summary["last"], summary["at"])
    with _cache_lock:
        cached = _extended.get(benchmark.pk)
        if cached is not None and cached[0] == id(problem) and cached[1] == signature:
            return cached[2]
    ids, rows, display = [], [], []
    for pk, dim, features, kind, text in items.order_by("pk").values_list("pk", "dim", "features", "kind", "text"):
        if dim != problem.dim:
            log.warning("benchmark %s: created item %s has %s-d features, the data %s-d; left out", benchmark.pk, pk,
                        dim, problem.dim)
            continue
        ids.append(f"{CreatedItem.PREFIX}{pk}")
        rows.append(np.frombuffer(bytes(features), dtype="<f4"))
        display.append(text if kind == CreatedItem.Kind.TEXT else "")
    extended = problem.with_items(ids, np.stack(rows) if rows else np.zeros((0, problem.dim), np.float32), display)
    with _cache_lock:
        _extended[benchmark.pk] = (id(problem), signature, extended)
    return extended


# --- who may propose a created item ------------------------------------------------------------------

def owns(user: User, item: CreatedItem) -> bool:
    """The item's creator, or a member of the team it was created for."""
    if not user.is_authenticated:
        return False
    return item.user_id == user.pk or (item.team_id is not None and item.team.members.filter(pk=user.pk).exists())


_FIRST_FIELD = re.compile(rb'^\s*"?\s*(' + re.escape(CreatedItem.PREFIX.encode()) + rb'\d+)\s*"?\s*,', re.MULTILINE)


def check_ownership(*, benchmark: Benchmark, user: User, uploaded_file) -> None:
    """Refuse an upload that proposes someone else's created item (it would share their credit and read
    the suite's answers on an item the uploader never saw)."""
    if not is_test_set(benchmark) or uploaded_file is None or uploaded_file.size > test_set.MAX_CSV_BYTES:
        return   # a larger file is refused by the type's validator anyway
    uploaded_file.seek(0)
    content = uploaded_file.read()
    uploaded_file.seek(0)
    numbers = {CreatedItem.number_of(match.group(1).decode()) for match in _FIRST_FIELD.finditer(content)}
    if not numbers:
        return
    for item in CreatedItem.objects.filter(benchmark=benchmark, pk__in=numbers).select_related("team").order_by("pk"):
        if not owns(user, item):
            raise SubmissionRejected("file", f"{uploaded_file.name}: {item.item_id} is an item another participant "
                                             "created; only its creator (or their team) can propose it")


# --- the seam to the prediction service (features, live answers) -----------------------------------

@dataclass
class RawForm:
    """What is stored of a raw item: the text, or the file's bytes and type."""

    kind: str
    text: str = ""
    content_type: str = ""
    data: bytes | None = None


def _featurise(benchmark: Benchmark, raw, label: str):
    """(features, the suite's answers as JSON, RawForm) for a raw item (``evaluation.raw_items.RawItem``),
    computed here on the server with the benchmark's featurizer and live suite."""
    from . import live

    prediction = live.predict_raw_item(benchmark, raw, label=label)   # LiveRejected: a 4xx sentence
    return prediction.features, prediction.as_dict(), raw_form(raw)


def raw_form(raw) -> RawForm:
    """What to store of a raw item: text as text; a picture as PNG or JPEG (by its signature); a clip as WAV."""
    if raw.kind == "text":
        return RawForm(kind=CreatedItem.Kind.TEXT, text=raw.text or "")
    data = bytes(raw.data or b"")
    if raw.kind == "audio":
        return RawForm(kind=CreatedItem.Kind.AUDIO, content_type="audio/wav", data=data)
    content_type = "image/jpeg" if data.startswith(b"\xff\xd8") else "image/png"
    return RawForm(kind=CreatedItem.Kind.IMAGE, content_type=content_type, data=data)


# --- creating an item -------------------------------------------------------------------------------

def _check_label(benchmark: Benchmark, problem, label) -> str:
    if not isinstance(label, str) or not label.strip():
        raise VerificationRejected("label", "claim the label you say is correct for your item")
    label = label.strip()
    if label not in problem.class_names:
        raise VerificationRejected("label", f"unknown label {label[:60]!r}; labels: {', '.join(problem.class_names)}")
    return label


def create_item(*, user: User, benchmark: Benchmark, raw, label: str, division: str = "open", description: str = "",
                team: Team | None = None) -> tuple[CreatedItem, Submission]:
    """Featurise ``raw`` (a ``RawItem`` of the prediction API), store it as a created item and submit it
    as a one-line test-set submission. Refusals (bad raw item, unknown label, closed phase, limits)
    store nothing."""
    if not is_test_set(benchmark):
        raise VerificationRejected("benchmark", "this benchmark does not take test-set submissions", 404)
    problem = problem_for_upload(benchmark).pool
    label = _check_label(benchmark, problem, label)
    features, answers, stored = _featurise(benchmark, raw, label)
    return store_and_submit(user=user, benchmark=benchmark, features=features, answers=answers, stored=stored,
                            label=label, division=division, description=description, team=team)


def store_and_submit(*, user: User, benchmark: Benchmark, features, answers: dict, stored: RawForm, label: str,
                     division: str = "open", description: str = "", team: Team | None = None) -> tuple[CreatedItem, Submission]:
    """Store a featurised item and submit it (one transaction: a refused submission stores nothing)."""
    problem = problem_for_upload(benchmark).pool
    label = _check_label(benchmark, problem, label)
    if stored.kind not in CreatedItem.Kind.values or (stored.data is not None and stored.content_type not in EXTENSIONS):
        raise VerificationRejected("item", f"cannot store a {stored.kind} item of type {stored.content_type!r}")
    features = np.asarray(features, dtype="<f4").reshape(-1)
    if features.shape[0] != problem.dim or not np.all(np.isfinite(features)):
        raise VerificationRejected("item", f"the item's features have {features.shape[0]} values, the data {problem.dim}", 503)
    saved_name = None
    try:
        with transaction.atomic():
            item = CreatedItem(benchmark=benchmark, user=user, team=_team_of(user, benchmark, team), kind=stored.kind,
                               text=stored.text, content_type=stored.content_type, features=features.tobytes(),
                               dim=int(features.shape[0]), label=label, live_answers=answers,
                               data_version=data_version(benchmark))
            item.save()
            if stored.data is not None:
                from django.core.files.base import ContentFile

                item.raw_file.save(f"{item.pk}.{EXTENSIONS[stored.content_type]}", ContentFile(stored.data), save=True)
                saved_name = item.raw_file.name
            submission = submit_test_set(user=user, benchmark=benchmark, items=[{"item_id": item.item_id, "label": label}],
                                         division=division, description=description or f"created item {item.item_id}",
                                         team=team)
            item.submission = submission
            item.save(update_fields=["submission"])
    except Exception:
        if saved_name:
            CreatedItem.raw_file.field.storage.delete(saved_name)   # the row is gone with the transaction
        raise
    return item, submission


def _team_of(user: User, benchmark: Benchmark, chosen: Team | None) -> Team | None:
    """The team the item's submission counts for (as ``create_submission`` decides it)."""
    return Team.objects.filter(challenge=benchmark.challenge, members=user).first() or chosen


# --- reads --------------------------------------------------------------------------------------------

def raw_item_for(user: User, benchmark: Benchmark, number: int) -> CreatedItem:
    """A created item for its creator (or their team), the challenge's annotators and its organizers;
    404 for everyone else (they learn nothing, not even that it exists)."""
    item = CreatedItem.objects.select_related("team").filter(pk=number, benchmark=benchmark).first()
    if item is None or not user.is_authenticated:
        raise Http404("No such item.")
    if owns(user, item) or challenge_selectors.annotates(user, benchmark.challenge):
        return item
    raise Http404("No such item.")


def own_items(user: User, benchmark: Benchmark) -> list[CreatedItem]:
    """The items the user (or their team in this challenge) created on the benchmark, newest first."""
    teams = Team.objects.filter(members=user).values("pk")
    return list(CreatedItem.objects.filter(benchmark=benchmark).filter(Q(user=user) | Q(team__in=teams))
                .select_related("submission").order_by("-pk")[:100])
