from django.apps import AppConfig


class VerificationConfig(AppConfig):
    name = "backend.verification"
    label = "verification"
    verbose_name = "Test-set verification and rounds"

    def ready(self) -> None:
        from backend.jobs import registry

        registry.register("suite", runner="backend.verification.services.run_suite_job")
        registry.register("ingest-test-set", runner="backend.verification.services.run_ingest_job")
