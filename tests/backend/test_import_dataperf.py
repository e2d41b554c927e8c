"""Importing official DataPerf downloads in their own layouts (small generated copies)."""
import pytest
from django.core.management import CommandError, call_command

from backend.challenges.models import Benchmark, Challenge
from fixtures import synthetic

pytestmark = pytest.mark.django_db


def test_speech_download_becomes_two_benchmarks_with_hidden_eval(tmp_path):
    data_dir = synthetic.write_speech_data(tmp_path / "dataperf_pt_data", train_nontargets=200, eval_nontargets=300,
                                           dim=32, seed=1)
    call_command("import_dataperf", "speech", str(data_dir), "--challenge", "speech-2023")
    challenge = Challenge.objects.get(slug="speech-2023")
    assert challenge.status == Challenge.Status.DRAFT and challenge.phases.count() == 1
    benchmarks = {b.slug: b for b in challenge.benchmarks.all()}
    assert set(benchmarks) == {"pt-25", "pt-60"}
    assert benchmarks["pt-60"].effective_config["train_size"] == 60
    assert set(benchmarks["pt-25"].artifacts.values_list("visibility", flat=True)) == {"public", "hidden"}


def test_vision_and_debugging_downloads(tmp_path):
    vision = synthetic.write_vision_data(tmp_path / "data", pool_size=1500, dim=16, seed=2)
    call_command("import_dataperf", "vision", str(vision), "--challenge", "vision-2023")
    benchmark = Benchmark.objects.get(challenge__slug="vision-2023")
    assert benchmark.effective_config["concepts"] == ["Cupcake", "Hawk", "Sushi"]
    debug = synthetic.write_debugging_data(tmp_path / "app", tasks=("01g317", "04hgtk"), seed=2)
    call_command("import_dataperf", "debugging", str(debug), "--challenge", "debug-2023", "--model", "knn")
    benchmark = Benchmark.objects.get(challenge__slug="debug-2023")
    assert set(benchmark.data_summary["tasks"]) == {"01g317", "04hgtk"}


def test_wrong_layouts_are_refused_and_nothing_is_created(tmp_path):
    with pytest.raises(CommandError, match="allowed_training_set.yaml"):
        call_command("import_dataperf", "speech", str(tmp_path), "--challenge", "x")
    speech = synthetic.write_speech_data(tmp_path / "dataperf_en_data", train_nontargets=100, eval_nontargets=100,
                                         dim=8, seed=1)
    (speech / "eval.yaml").write_text("targets: [broken")
    with pytest.raises(CommandError, match="eval.yaml"):
        call_command("import_dataperf", "speech", str(speech), "--challenge", "x")
    assert not Challenge.objects.filter(slug="x").exists()
    with pytest.raises(CommandError, match="not a directory"):
        call_command("import_dataperf", "vision", str(tmp_path / "missing"), "--challenge", "x")
