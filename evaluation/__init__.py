"""DataPerf evaluation library: benchmark types, data loaders, validators and scorers.

Plain Python (numpy, scikit-learn, pandas); no Django. Participants use it offline through
``python -m evaluation``; the platform's Celery workers call the same functions.
"""
from .base import BenchmarkType, DataError, EvaluationError, Metric, Result, SubmissionError
from .registry import all_types, get

__all__ = [
    "BenchmarkType", "DataError", "EvaluationError", "Metric", "Result", "SubmissionError", "all_types", "get",
]
