"""Worker set-up for scoring. The scoring work itself runs as jobs (``backend.jobs.tasks.run_job``) of
the kinds registered in apps.py."""
import resource

from celery.signals import worker_init, worker_process_init
from django.conf import settings


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
