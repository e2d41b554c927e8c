"""Per-process cache of loaded problems, so a warm worker never re-parses a benchmark's data.

Keys are (type slug, resolved data directory, config). The platform materialises each benchmark's
data into a directory named by its content hash, so a path names one immutable version of the data.
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from .base import BenchmarkType

_MAX_PROBLEMS = 8
_lock = threading.Lock()
_problems: OrderedDict[tuple[str, str, str], Any] = OrderedDict()


def load_problem(benchmark: BenchmarkType, data_dir: Path, config: dict[str, Any]) -> Any:
    key = (benchmark.slug, str(Path(data_dir).resolve()), json.dumps(config, sort_keys=True, default=str))
    with _lock:
        if key in _problems:
            _problems.move_to_end(key)
            return _problems[key]
    problem = benchmark.load_problem(Path(data_dir), config)
    with _lock:
        _problems[key] = problem
        while len(_problems) > _MAX_PROBLEMS:
            _problems.popitem(last=False)
    return problem


def clear() -> None:
    with _lock:
        _problems.clear()
