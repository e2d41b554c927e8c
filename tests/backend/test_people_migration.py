"""Annotators used to be a global role: the migration to per-challenge annotators keeps every existing
annotator verifying every existing challenge (and nobody else)."""
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("challenges", "0003_benchmark_environment"), ("accounts", "0001_initial")]
AFTER = [("challenges", "0004_challenge_annotators"), ("accounts", "0002_profile_team_challenge_notifications")]


@pytest.mark.django_db(transaction=True)
def test_existing_global_annotators_become_annotators_of_every_existing_challenge():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    User, Challenge = old.get_model("accounts", "User"), old.get_model("challenges", "Challenge")
    annotators = [User.objects.create(username=f"a{i}", role="annotator") for i in range(2)]
    User.objects.create(username="p", role="participant")
    for slug in ("one", "two"):
        Challenge.objects.create(slug=slug, title=slug)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    for challenge in new.get_model("challenges", "Challenge").objects.all():
        assert sorted(challenge.annotators.values_list("username", flat=True)) == [a.username for a in annotators]

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())     # leave the database as the other tests expect it
