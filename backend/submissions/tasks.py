"""Celery tasks: thin wrappers around services."""
import logging
import resource

from celery import shared_task
from celery.signals import worker_init, worker_process_init
from django.conf import settings

from . import runner, services

log = logging.getLogger(__name__)


@worker_init.connect
def _preload_scorers(**_kwargs) -> None:
    # Import every scorer and its libraries once in the parent, before the pool forks: children
    # then share them and never load a library under their memory cap.
    import sklearn.ensemble, sklearn.linear_model, sklearn.metrics, sklearn.neighbors, sklearn.svm  # noqa: E401,F401

    import evaluation

    evaluation.all_types()


_blas_limits = None


@worker_process_init.connect
def _one_blas_thread_per_pool_process(**_kwargs) -> None:
    # Pool processes already use every core; threaded BLAS on top made small fits up to 35x slower.
    global _blas_limits
    from threadpoolctl import threadpool_limits

    _blas_limits = threadpool_limits(limits=1)


@worker_process_init.connect
def _limit_worker_memory(**_kwargs) -> None:
    # A hard cap on each pool process: a runaway scorer gets MemoryError, not the OOM killer.
    limit = settings.EVALUATION_MEMORY_LIMIT_MB * 2**20
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def evaluate_submission(self, submission_id: int) -> None:
    try:
        runner.run_evaluation(submission_id)
    except services.Busy:
        # Another worker holds a live claim (duplicate delivery); look again after its heartbeat could go stale.
        raise self.retry(countdown=services.STALE_HEARTBEAT_SECONDS, max_retries=2000)


@shared_task
def reap_stuck_submissions() -> dict:
    counts = services.reap_stuck_submissions()
    if any(counts.values()):
        log.warning("reaper: %s", counts)
    return counts


@shared_task(acks_late=True, reject_on_worker_lost=True)
def evaluate_submission_part(submission_id: int, token: str, task_id: str) -> None:
    runner.run_part(submission_id, token, task_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def compute_background_details(submission_id: int, token: str) -> None:
    runner.run_background_details(submission_id, token)
