"""Kinds of jobs. Each app that owns background work registers its kinds (in its AppConfig.ready);
the jobs app knows them only by name, so it never imports the apps that use it."""
from __future__ import annotations

from dataclasses import dataclass

from django.utils.module_loading import import_string


@dataclass(frozen=True)
class JobKind:
    name: str
    # Dotted path of ``run(job, lease)``: does the work of a claimed job (see backend.jobs.worker).
    runner: str
    # Celery queue its messages go to.
    queue: str = "default"
    # Dotted path of ``gave_up(subject_id, job, reason)``: called (in the sweep's transaction) when the
    # job is failed by the machinery itself, e.g. its worker died max_attempts times.
    on_gave_up: str = ""

    def run(self, job, lease) -> None:
        import_string(self.runner)(job, lease)

    def gave_up(self, job, reason: str) -> None:
        if self.on_gave_up:
            import_string(self.on_gave_up)(job.subject_id, job, reason)


_KINDS: dict[str, JobKind] = {}


def register(name: str, *, runner: str, queue: str = "default", on_gave_up: str = "") -> JobKind:
    kind = JobKind(name, runner, queue, on_gave_up)
    _KINDS[name] = kind
    return kind


def get(name: str) -> JobKind:
    return _KINDS[name]


def names() -> list[str]:
    return list(_KINDS)
