from django.apps import AppConfig


class VerificationConfig(AppConfig):
    name = "backend.verification"
    label = "verification"
    verbose_name = "Test-set verification and rounds"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the receivers
