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
