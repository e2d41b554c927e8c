"""Small builders for backend tests."""
import json

from django.core.files.uploadedfile import SimpleUploadedFile

from fixtures import synthetic


def speech_upload(data_dir, *, train_size=25, seed=0, name="submission.json", mutate=None):
    submission = synthetic.random_speech_submission(data_dir, train_size=train_size, seed=seed)
    if mutate:
        mutate(submission)
    return SimpleUploadedFile(name, json.dumps(submission).encode(), content_type="application/json")


def raw_upload(content: bytes, name="submission.json"):
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def publish_score(submission, *, version=None):
    """What the services do after storing scores written here directly: bump the phase's leaderboard
    version (to ``version`` when given) and refresh the entrant's ranked row in the same transaction."""
    from django.db import transaction

    from backend.challenges.models import Phase
    from backend.challenges.services import bump_leaderboard
    from backend.leaderboards import services

    with transaction.atomic():
        if version is None:
            bump_leaderboard(submission.phase_id)
        else:
            Phase.objects.filter(pk=submission.phase_id).update(leaderboard_version=version)
        services.refresh_for_submission(submission)
