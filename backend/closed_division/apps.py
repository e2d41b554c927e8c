from django.apps import AppConfig


class ClosedDivisionConfig(AppConfig):
    name = "backend.closed_division"
    label = "closed_division"
    verbose_name = "Closed division: code runs and concealed tasks"
