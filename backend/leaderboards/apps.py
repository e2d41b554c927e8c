from django.apps import AppConfig


class LeaderboardsConfig(AppConfig):
    name = "backend.leaderboards"
    label = "leaderboards"
