"""Fixtures for the verification app: a generated test-set benchmark (with a matching training-set
benchmark for the ratchet), and helpers that submit and land test-set submissions the way the worker does."""
from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

import evaluation.benchmarks.training_set  # noqa: F401  (registers the training-set type for the ratchet tests)
from backend.submissions import services as submission_services
from backend.verification import services
from evaluation.benchmarks import test_set
from fixtures import test_set_synthetic as synth
from tests.conftest import add_benchmark, make_challenge

_counter = itertools.count()


@pytest.fixture(scope="session")
def test_set_data_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("test-set") / "data"
    synth.write_test_set_data(path, pool_size=240, seed=7)
    return path


@pytest.fixture(scope="session")
def training_set_data_dir(tmp_path_factory) -> Path:
    return synth.write_training_set_data(tmp_path_factory.mktemp("training-set") / "data", seed=7)


@pytest.fixture(scope="session")
def truth(test_set_data_dir) -> dict[str, str]:
    return synth.hidden_labels(test_set_data_dir)


@pytest.fixture
def ts_challenge(users, test_set_data_dir):
    challenge = make_challenge(users["organizer"], slug="shapes")
    add_benchmark(challenge, "test-set", test_set_data_dir, slug="adversarial", config={"max_items": 10})
    return challenge


@pytest.fixture
def ts_benchmark(ts_challenge):
    return ts_challenge.benchmarks.get(slug="adversarial")


def csv_upload(rows, name="my-set.csv"):
    text = "item_id,label\n" + "".join(f"{item},{label}\n" for item, label in rows)
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def land(submission, ingest=True):
    """What the worker does with a queued submission: claim, score with the evaluation library, store,
    then the ingestion that runs after the task."""
    claimed = submission_services.claim_for_evaluation(submission.pk)
    assert claimed is not None
    _, token = claimed
    benchmark = submission.benchmark
    problem = submission_services.load_benchmark_problem(benchmark)
    solution = submission_services.validate_submission_file(benchmark, Path(submission.file.path))
    result = benchmark.benchmark_type.evaluate(problem, solution, benchmark.effective_config)
    assert submission_services.complete_evaluation(submission.pk, token, result, benchmark.benchmark_type.primary_metric)
    assert services.ingest_submission(submission.pk) == ingest
    submission.refresh_from_db()
    return submission


def propose(user, benchmark, rows, *, team=None):
    submission = submission_services.create_submission(user=user, benchmark=benchmark, uploaded_file=csv_upload(rows),
                                                       team=team)
    return land(submission)


def predictions(benchmark):
    problem = submission_services.load_benchmark_problem(benchmark).pool   # the candidate pool (no created items)
    return test_set.problem_predictions(problem, benchmark.effective_config)


def fooling_pairs(benchmark, truth, n):
    """n (item, true label) pairs that a majority of the suite mislabels: items that should score."""
    suite = predictions(benchmark)
    pairs = sorted(test_set.fooling_items(suite, truth.items()))
    assert len(pairs) >= n
    return pairs[:n]


def plain_pairs(benchmark, n):
    """n (item, label the models agree with) pairs: they never fool the suite."""
    suite = predictions(benchmark)
    return [(item, suite.majority(item)) for item in sorted(suite.index)[:n]]


def make_annotators(count, prefix="annot", challenges=None):
    """Annotator accounts added to ``challenges`` (default: every challenge made so far)."""
    from backend.accounts.models import User
    from backend.challenges.models import Challenge

    annotators = [User.objects.create_user(username=f"{prefix}{next(_counter)}", password="pw", role=User.Role.ANNOTATOR)
                  for _ in range(count)]
    for challenge in (Challenge.objects.all() if challenges is None else challenges):
        challenge.annotators.add(*annotators)
    return annotators


def target_of(benchmark, item, label):
    from backend.verification.models import Target

    return Target.objects.get(benchmark=benchmark, item_id=item, label=label)


def verify(target, annotators, verdict="correct", **extra):
    return [services.record_vote(user=a, target=target, verdict=verdict, **extra) for a in annotators]


def scores(submission) -> dict:
    return {s.metric: s.value for s in submission.scores.all()}
