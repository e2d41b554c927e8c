from django.apps import AppConfig


class OrchestrationConfig(AppConfig):
    """The layer above the apps: connects the extensions (closed division, verification) to the
    extension points of the apps they build on (submissions, leaderboards, challenges' data)."""

    name = "backend.orchestration"
    label = "orchestration"

    def ready(self) -> None:
        from . import receivers

        receivers.connect()
