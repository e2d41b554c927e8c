"""Live predictions for a participant's own item (model-in-the-loop test-set creation).

Interface (the creation page and the prediction API call it)::

    predict_raw_item(benchmark: Benchmark, raw: evaluation.raw_items.RawItem, *, label: str | None = None)
        -> evaluation.live_suite.LivePrediction

``raw_kind(benchmark) -> "text" | "image" | "audio" | None`` says whether (and what) a benchmark takes.

``predict_raw_item`` featurises ``raw`` with the featurizer the benchmark's public data declares (``meta.json`` ``raw``,
``extractor.npz``) and lets every member of the benchmark's current suite (reference set + ratchet)
answer. ``LivePrediction`` holds ``predictions`` (model, label, confidence), ``majority``,
``features`` (float32, like a pool row: store them with a created item), ``features_dim`` and, with
a claimed ``label``, ``fooled`` / ``wrong_votes`` (the rule of ``SuitePredictions.fools``).
``as_dict()`` is the API body. Raises :class:`LiveRejected` (a ``Rejected``: 4xx with a sentence) for
a benchmark without raw items (404) or a bad item (400, the featurizer's sentence); a benchmark
whose data cannot be loaded is a 503.

The role check is the caller's (``selectors.get_test_set_benchmark`` answers 404). The fitted suite is
trained by a worker once per data version (the ratchet is hidden data: a new round is a new version;
the suite job, ``services.warm_suite_predictions``, runs when the data changes) and shared through the
platform cache as pickle bytes (``live-suite:<version>:<suite key>``), then kept in each process. A web
request that finds no suite (cache evicted, data just changed) queues the job and answers 503 with
Retry-After if it is not ready within ``LIVE_SUITE_WAIT_SECONDS``.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path

from django.conf import settings
from django.core.cache import cache

from backend.challenges.models import Benchmark
from backend.challenges.services import data_version, materialize_benchmark_data
from backend.core.errors import NON_FIELD, Rejected
from backend.submissions import services as submission_services
from evaluation import DataError
from evaluation.benchmarks import test_set
from evaluation.live_suite import LivePrediction, LiveSuite
from evaluation.raw_items import Featurizer, RawItem, RawItemError, load_featurizer, read_raw_meta

from .services import is_test_set

log = logging.getLogger(__name__)
CACHE_TIMEOUT = 7 * 24 * 3600
PROCESS_SUITES = 8   # fitted suites kept per process (10-26 MB each for the real tasks: k-NN keeps its training set)

_suites: OrderedDict[str, LiveSuite] = OrderedDict()
_featurizers: dict[str, Featurizer | None] = {}
_lock = threading.Lock()
_key_locks: dict[str, threading.Lock] = {}


class LiveRejected(Rejected):
    """A raw item or benchmark the prediction service refuses."""


def _suite_key(benchmark: Benchmark) -> str:
    return f"live-suite:{data_version(benchmark)}:{test_set.predictions_key(benchmark.effective_config)}"


def raw_kind(benchmark: Benchmark) -> str | None:
    """The raw item kind (text, image, audio) a test-set benchmark takes, or None (reads meta.json only)."""
    if not is_test_set(benchmark) or not benchmark.artifacts.exists():
        return None
    try:
        raw = read_raw_meta(materialize_benchmark_data(benchmark))
    except DataError:
        return None
    return raw["kind"] if raw else None


def featurizer(benchmark: Benchmark) -> Featurizer:
    """The benchmark's featurizer, loaded once per process and data version; 404 if it takes no raw items."""
    if not is_test_set(benchmark) or not benchmark.artifacts.exists():
        raise LiveRejected(NON_FIELD, "this benchmark does not take created items", 404)
    version = data_version(benchmark)
    with _lock:
        cached = version in _featurizers
        loaded = _featurizers.get(version)
    if not cached:
        try:
            loaded = load_featurizer(Path(materialize_benchmark_data(benchmark)))
        except DataError as error:
            log.error("benchmark %s: raw-item featurizer cannot be loaded: %s", benchmark.slug, error)
            raise LiveRejected(NON_FIELD, "this benchmark's data is unavailable right now; the organizers have been told",
                               503) from None
        with _lock:
            if len(_featurizers) >= 32:   # old data versions (earlier rounds): a few MB each at most
                _featurizers.clear()
            _featurizers[version] = loaded
    if loaded is None:
        raise LiveRejected(NON_FIELD, "this benchmark does not take created items (its data declares no raw kind)", 404)
    return loaded


def live_suite(benchmark: Benchmark, *, train: bool = False) -> LiveSuite:
    """The benchmark's fitted suite: this process's copy, else the shared cache's. Only a worker trains
    it (``train=True``, seconds to a minute); a web request that finds neither asks for the suite job and
    waits up to ``LIVE_SUITE_WAIT_SECONDS`` for the cache, then answers 503 with Retry-After."""
    key = _suite_key(benchmark)
    with _lock:
        if key in _suites:
            _suites.move_to_end(key)
            return _suites[key]
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:   # one cache read or training per process and key; concurrent requests wait for it
        with _lock:
            if key in _suites:
                return _suites[key]
        suite = _cached_suite(key)
        if suite is None and train:
            try:
                problem = submission_services.load_benchmark_problem(benchmark)
                suite = LiveSuite.from_config(problem, benchmark.effective_config)
            except DataError as error:
                log.error("benchmark %s: the live suite cannot be trained: %s", benchmark.slug, error)
                raise LiveRejected(NON_FIELD, "this benchmark's data is unavailable right now; the organizers have been "
                                   "told", 503) from None
            cache.set(key, suite.to_bytes(), timeout=CACHE_TIMEOUT)
        elif suite is None:
            suite = _wait_for_worker(benchmark, key)
        with _lock:
            _suites[key] = suite
            while len(_suites) > PROCESS_SUITES:
                _suites.popitem(last=False)
            _key_locks.pop(key, None)
        return suite


def _cached_suite(key: str) -> LiveSuite | None:
    data = cache.get(key)
    return LiveSuite.from_bytes(data) if isinstance(data, bytes) else None


def _wait_for_worker(benchmark: Benchmark, key: str) -> LiveSuite:
    """Ask a worker to train the suite (unless one is at it) and wait a little for the shared copy: a web
    process never trains (it would hold a request, and memory, for up to a minute per task)."""
    from backend.jobs import services as jobs  # noqa: PLC0415 - verification registers its kinds at app load

    from .services import SUITE  # noqa: PLC0415 - services imports this module

    # A suite job that ended moments ago without filling the cache failed on the data: do not re-queue
    # it on every request (the organizers see the job's message in the admin).
    jobs.ensure_queued(SUITE, benchmark.pk, unless_finished_within=settings.LIVE_SUITE_WAIT_SECONDS)
    deadline = time.monotonic() + settings.LIVE_SUITE_WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.25)
        suite = _cached_suite(key)
        if suite is not None:
            return suite
    raise LiveRejected(NON_FIELD, "the models of this benchmark are still being trained for its current data; "
                       "try again in a few seconds", 503, retry_after=10)


def predict_raw_item(benchmark: Benchmark, raw: RawItem, *, label: str | None = None) -> LivePrediction:
    """Featurise ``raw`` and let every suite member answer (see the module docstring)."""
    feat = featurizer(benchmark)
    if label is not None:
        classes = test_set_class_names(benchmark)
        if label not in classes:
            raise LiveRejected("label", f"unknown label {label[:60]!r}; labels: {', '.join(classes)}")
    if raw.kind != feat.raw_kind:
        raise LiveRejected(_field(raw), f"this benchmark takes {feat.raw_kind} items, not {raw.kind}")
    try:
        features = feat(raw)
    except RawItemError as error:
        raise LiveRejected(_field(raw), _strip_field(str(error), _field(raw))) from None
    return live_suite(benchmark).predict(features, label=label)


def test_set_class_names(benchmark: Benchmark) -> list[str]:
    return list(submission_services.load_benchmark_problem(benchmark).class_names)


def warm_live_suite(benchmark: Benchmark) -> bool:
    """Train and share the fitted suite (the worker's suite job calls this with the pool's predictions)."""
    try:
        featurizer(benchmark)
    except LiveRejected:
        return False
    live_suite(benchmark, train=True)
    return True


def _field(raw: RawItem) -> str:
    return {"text": "text", "image": "image", "audio": "audio"}.get(raw.kind, "item")


def _strip_field(message: str, field: str) -> str:
    """RawItemError messages start with the field ("image: ..."); Rejected adds it again."""
    prefix = f"{field}: "
    return message[len(prefix):] if message.startswith(prefix) else message
