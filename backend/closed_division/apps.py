from django.apps import AppConfig


class ClosedDivisionConfig(AppConfig):
    name = "backend.closed_division"
    label = "closed_division"
    verbose_name = "Closed division: code runs and concealed tasks"

    def ready(self) -> None:
        from backend.jobs import registry

        for stage, runner in (("verify", "run_verification"), ("concealed", "run_concealed")):
            registry.register(stage, runner=f"backend.closed_division.runner.{runner}", queue="sandbox",
                              on_gave_up="backend.closed_division.services.gave_up")
