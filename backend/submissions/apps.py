from django.apps import AppConfig


class SubmissionsConfig(AppConfig):
    name = "backend.submissions"
    label = "submissions"

    def ready(self) -> None:
        from backend.jobs import registry

        from . import tasks  # noqa: F401 - the worker's set-up signals

        registry.register("score", runner="backend.submissions.runner.run_evaluation", queue="evaluation",
                          on_gave_up="backend.submissions.services.gave_up_scoring")
        registry.register("score-part", runner="backend.submissions.runner.run_part", queue="evaluation",
                          on_gave_up="backend.submissions.services.gave_up_part")
        # Extras are optional: when they cannot be computed the score stands.
        registry.register("details", runner="backend.submissions.runner.run_background_details", queue="evaluation")
