from django.apps import AppConfig


class ChallengesConfig(AppConfig):
    name = "backend.challenges"
    label = "challenges"
