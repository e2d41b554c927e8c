"""The data ratchet: the best training sets join the model suite, verified items become a new round's
hidden test set, ranked training sets are re-scored on it, and the chart shows both sides per round."""
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from backend.challenges.models import DatasetArtifact
from backend.submissions import services as submission_services
from backend.verification import selectors, services
from backend.verification.models import Round, RoundScore, Target
from evaluation.benchmarks import test_set
from evaluation.models import accuracy, fit_predict
from tests.conftest import add_benchmark

from .conftest import fooling_pairs, land, make_annotators, propose, scores, target_of, verify

pytestmark = pytest.mark.django_db


@pytest.fixture
def training(ts_challenge, training_set_data_dir):
    return add_benchmark(ts_challenge, "training-set", training_set_data_dir, slug="train")


def train_submission(user, benchmark, rows):
    problem = submission_services.load_benchmark_problem(benchmark)
    text = "id,label\n" + "".join(f"{problem.ids[r]},{int(problem.y[r])}\n" for r in rows)
    upload = SimpleUploadedFile("train.csv", text.encode(), content_type="text/csv")
    return land(submission_services.create_submission(user=user, benchmark=benchmark, uploaded_file=upload), ingest=False)


@pytest.fixture
def ranked(training, users):
    return {"alice": train_submission(users["alice"], training, range(300)),
            "bob": train_submission(users["bob"], training, range(12))}


def test_refreshing_the_suite_adds_the_best_training_set_and_makes_items_harder(ts_benchmark, ranked, users, truth):
    ts_benchmark.config = {**ts_benchmark.config, "ratchet_top_k": 1}
    ts_benchmark.save()
    candidates = sorted(truth.items())
    before = test_set.fooling_items(
        test_set.problem_predictions(submission_services.load_benchmark_problem(ts_benchmark), ts_benchmark.effective_config),
        candidates)
    round_ = services.refresh_suite(user=users["organizer"], benchmark=ts_benchmark)
    best = max(ranked.values(), key=lambda s: scores(s)["accuracy"])
    assert round_.number == 1
    assert round_.suite_members[:3] == ["logreg", "knn", "random_forest"]
    assert best == ranked["alice"]
    assert round_.suite_members[3:] == [f"{m}@train#{best.pk}" for m in ("logreg", "knn", "random_forest")]
    assert ts_benchmark.artifacts.filter(visibility=DatasetArtifact.Visibility.HIDDEN).count() == 2   # data + ratchet
    problem = submission_services.load_benchmark_problem(ts_benchmark)
    assert [t.name for t in problem.ratchet] == [f"train#{best.pk}"]
    after = test_set.fooling_items(test_set.problem_predictions(problem, ts_benchmark.effective_config), candidates)
    assert len(after) < len(before)
    # New submissions are scored against the ratcheted suite.
    submission = propose(users["alice"], ts_benchmark, sorted(after)[:2])
    assert submission.details["suite"] == round_.suite_members
    assert scores(submission)["fooled"] == 2.0
    # Refreshing again replaces the ratchet archive instead of piling them up.
    services.refresh_suite(user=users["organizer"], benchmark=ts_benchmark)
    assert ts_benchmark.artifacts.filter(visibility=DatasetArtifact.Visibility.HIDDEN).count() == 2


def test_the_best_k_join_in_leaderboard_order(ts_benchmark, ranked, users):
    members = services.refresh_suite(user=users["organizer"], benchmark=ts_benchmark).suite_members
    assert members[3:] == [f"{m}@train#{ranked[who].pk}" for who in ("alice", "bob")
                           for m in ("logreg", "knn", "random_forest")]
    ts_benchmark.config = {**ts_benchmark.config, "ratchet_top_k": 0}
    ts_benchmark.save()
    assert len(services.refresh_suite(user=users["organizer"], benchmark=ts_benchmark).suite_members) == 3


def test_a_new_round_promotes_verified_items_and_rescores_ranked_training_sets(
        ts_benchmark, ranked, users, truth, django_capture_on_commit_callbacks):
    pairs = fooling_pairs(ts_benchmark, truth, 3)
    proposal = propose(users["bob"], ts_benchmark, pairs)
    for pair in pairs[:2]:
        verify(target_of(ts_benchmark, *pair), make_annotators(3))
    verify(target_of(ts_benchmark, *pairs[2]), make_annotators(3), "incorrect")
    assert scores(proposal)["credit"] == 2.0
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        round_ = services.start_next_round(user=users["organizer"], benchmark=ts_benchmark)
    # enqueued after commit: the re-scoring of ranked training sets, and training the new round's suite
    assert len(callbacks) == 2
    assert round_.number == 2 and Round.objects.filter(benchmark=ts_benchmark).count() == 2
    assert sorted(round_.promoted_targets.values_list("item_id", "label")) == sorted(pairs[:2])
    assert set(RoundScore.objects.values_list("submission_id", "status")) == {(s.pk, "queued") for s in ranked.values()}

    assert services.score_round(round_.pk) == {"scored": 2, "failed": 0}
    problem = submission_services.load_benchmark_problem(ts_benchmark)
    X_test = problem.X[[problem.index[i] for i, _ in sorted(pairs[:2])]]
    y_test = np.array([problem.label_index(label) for _, label in sorted(pairs[:2])])
    X, y = services.training_data(ranked["alice"])
    expected = np.mean([accuracy(fit_predict(m, X, y, X_test), y_test) for m in ("logreg", "knn", "random_forest")])
    assert RoundScore.objects.get(submission=ranked["alice"]).value == pytest.approx(expected)

    # The promoted items are test data now: proposing one again is not novel, and it is never promoted twice.
    again = propose(users["alice"], ts_benchmark, [pairs[0]])
    assert again.proposed_items.get().novelty == pytest.approx(0.0, abs=1e-6)
    assert services.eligible_for_promotion(ts_benchmark).count() == 0
    # ... and it earns nothing any more, nor does it take credit from the entrant who found it.
    assert scores(again)["credit"] == 0.0 and scores(proposal)["credit"] == 2.0

    summary = selectors.rounds_summary(ts_benchmark)
    assert [r["number"] for r in summary] == [1, 2]
    assert summary[0]["best_training_score"] == pytest.approx(max(scores(s)["accuracy"] for s in ranked.values()))
    assert summary[1]["best_training_score"] == pytest.approx(max(RoundScore.objects.values_list("value", flat=True)))
    assert summary[0]["best_test_set_credit"] == 2.0 and summary[1]["promoted_items"] == 2


def test_promoting_named_items_checks_they_are_eligible(ts_benchmark, users, truth):
    pairs = fooling_pairs(ts_benchmark, truth, 2)
    propose(users["alice"], ts_benchmark, pairs)
    verified = target_of(ts_benchmark, *pairs[0])
    verify(verified, make_annotators(3))
    pending = target_of(ts_benchmark, *pairs[1])
    with pytest.raises(services.VerificationRejected) as error:
        services.start_next_round(user=users["organizer"], benchmark=ts_benchmark, item_ids=[verified.pk, pending.pk])
    assert error.value.field == "items" and str(pending.pk) in error.value.message
    assert not Round.objects.exists() and not Target.objects.exclude(promoted_round=None).exists()
    round_ = services.start_next_round(user=users["organizer"], benchmark=ts_benchmark, item_ids=[verified.pk])
    assert list(round_.promoted_targets.all()) == [verified]


def test_the_challenge_page_shows_the_ratchet_chart(ts_challenge, training, users, client):
    page = client.get("/challenges/shapes/").content.decode()
    assert "vendor/plotly/plotly.min.js" in page and 'data-url="/api/verify/shapes/adversarial/rounds/"' in page
    assert client.get("/static/vendor/plotly/plotly.min.js").status_code == 200
    body = client.get("/api/verify/shapes/adversarial/rounds/").json()
    assert [r["number"] for r in body["rounds"]] == [1]


def test_challenges_without_a_test_set_have_no_chart(speech_challenge, client):
    assert "plotly" not in client.get("/challenges/kws/").content.decode()


def test_suite_predictions_are_shared_per_data_version(ts_benchmark, ranked, users):
    """Trained once, stored in the platform cache under the data version: another process reads the
    stored matrix (here: a fresh problem cache sees a stored matrix that says 'circle' everywhere), and
    a new round's ratchet is a new data version, so it is trained afresh rather than read stale."""
    import evaluation.cache
    from django.core.cache import cache

    from backend.challenges.services import data_version

    evaluation.cache.clear()   # this process trained the same data in earlier tests
    config = ts_benchmark.effective_config
    key = f"suite-predictions:{data_version(ts_benchmark)}:{test_set.predictions_key(config)}"
    trained = services.suite_predictions(ts_benchmark)
    stored = cache.get(key)
    assert stored["members"] == trained.members and np.array_equal(stored["matrix"], trained.matrix)

    circle = trained.class_names.index("circle")
    cache.set(key, {"members": trained.members, "matrix": np.full_like(stored["matrix"], circle)})
    evaluation.cache.clear()
    page = selectors.pool_page(ts_benchmark)
    assert {item["majority"] for item in page["items"]} == {"circle"}

    ts_benchmark.config = {**ts_benchmark.config, "ratchet_top_k": 1}
    ts_benchmark.save()
    services.refresh_suite(user=users["organizer"], benchmark=ts_benchmark)
    evaluation.cache.clear()
    ratcheted = services.suite_predictions(ts_benchmark)
    assert len(ratcheted.members) == len(trained.members) * 2
    assert cache.get(f"suite-predictions:{data_version(ts_benchmark)}:{test_set.predictions_key(config)}")["members"] \
        == ratcheted.members
