"""Evaluation tests use a private on-disk derived-data cache (evaluation.cache), not the user's."""
import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_evaluation_cache(tmp_path_factory):
    previous = os.environ.get("EVALUATION_CACHE_DIR")
    os.environ["EVALUATION_CACHE_DIR"] = str(tmp_path_factory.mktemp("evaluation-cache"))
    yield
    if previous is None:
        os.environ.pop("EVALUATION_CACHE_DIR", None)
    else:
        os.environ["EVALUATION_CACHE_DIR"] = previous
