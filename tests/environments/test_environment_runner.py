"""The pinned scorer passes the benchmark's config to the child's command line faithfully."""
from __future__ import annotations

import pytest

from backend.challenges.models import Benchmark
from backend.submissions import environment_runner
from evaluation.__main__ import _build_parser


@pytest.mark.parametrize("type_slug,config", [
    ("speech-selection", {"train_size": 60}),
    ("debugging", {"tasks": ["01g317", "04hgtk"], "model": "logreg", "target_ratio": 0.9}),
    ("test-set", {"verify_non_fooling": True, "max_items": 7, "ratchet_benchmarks": ["a-b", "c"]}),
    ("vision-selection", {}),
])
def test_config_overrides_round_trip_through_the_cli(type_slug, config):
    benchmark = Benchmark(type_slug=type_slug, config=config)
    arguments = environment_runner.config_arguments(benchmark)
    args = _build_parser().parse_args(["score", type_slug, "--data", "d", "--submission", "s", *arguments])
    parsed = {key: getattr(args, key) for key in benchmark.benchmark_type.default_config
              if getattr(args, key, None) is not None}
    assert benchmark.benchmark_type.config(parsed) == benchmark.effective_config
    assert bool(arguments) == bool(config)  # defaults are not repeated


def test_only_pinned_benchmarks_leave_the_process():
    assert not environment_runner.is_pinned(Benchmark(type_slug="speech-selection"))
    assert environment_runner.is_pinned(Benchmark(type_slug="speech-selection", environment="dataperf-2023"))
