from django.apps import AppConfig


class VerificationConfig(AppConfig):
    name = "backend.verification"
    label = "verification"
    verbose_name = "Test-set verification and rounds"
