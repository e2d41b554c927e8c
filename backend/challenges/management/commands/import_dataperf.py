"""Import an official DataPerf download, in its own layout, as benchmarks of a challenge.

    python manage.py import_dataperf speech path/to/dataperf_en_data --challenge speech-2023
    python manage.py import_dataperf vision path/to/data --challenge vision-2023
    python manage.py import_dataperf debugging path/to/app --challenge debugging-2023

The data is validated by loading it with the benchmark type before anything is stored. A missing
challenge is created as a draft with one open phase, for the organizer to edit and publish.
"""
import re
from datetime import timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

import evaluation
from backend.challenges import services
from backend.challenges.models import Benchmark, Challenge, Phase

SPEECH_DIR = re.compile(r"dataperf_(?P<lang>[a-z]{2,3})_data$")


def speech_benchmarks(data_dir: Path) -> list[dict]:
    match = SPEECH_DIR.match(data_dir.name)
    lang = match["lang"] if match else "xx"
    if not (data_dir / "allowed_training_set.yaml").is_file():
        raise CommandError(f"{data_dir}: no allowed_training_set.yaml — is this a dataperf_<lang>_data directory?")
    return [{"slug": f"{lang}-{size}", "title": f"Speech selection {lang}, {size} clips", "type": "speech-selection",
             "task": "Keyword spotting", "config": {"train_size": size}} for size in (25, 60)]


def vision_benchmarks(data_dir: Path) -> list[dict]:
    tests = sorted((data_dir / "test_sets").glob("alpha_test_set_*_256.parquet"))
    if not tests:
        raise CommandError(f"{data_dir}: no test_sets/alpha_test_set_<Concept>_256.parquet — is this the vision data/ folder?")
    concepts = [p.name[len("alpha_test_set_"):-len("_256.parquet")] for p in tests]
    return [{"slug": "concepts", "title": "Vision selection: " + ", ".join(concepts), "type": "vision-selection",
             "task": "Image classification", "config": {"concepts": concepts}}]


def debugging_benchmarks(data_dir: Path) -> list[dict]:
    if not list((data_dir / "embeddings").glob("*_train_*.parquet")):
        raise CommandError(f"{data_dir}: no embeddings/<id>_train_*.parquet — is this the debugging app/ folder?")
    return [{"slug": "cleaning", "title": "Vision debugging (training-set cleaning)", "type": "debugging",
             "task": "Image classification", "config": {"model": "dataperf-torch"}}]


KINDS = {"speech": speech_benchmarks, "vision": vision_benchmarks, "debugging": debugging_benchmarks}


class Command(BaseCommand):
    help = "Import an official DataPerf download (speech, vision or debugging layout) as benchmarks."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(KINDS))
        parser.add_argument("data_dir", type=Path)
        parser.add_argument("--challenge", required=True, help="challenge slug (created as a draft if missing)")
        parser.add_argument("--title", help="challenge title when it is created")
        parser.add_argument("--model", help="debugging: fixed model (default dataperf-torch, DataPerf's own; "
                                            "knn is a fast stand-in, not the official model)")

    def handle(self, kind, data_dir, challenge, title=None, model=None, **options):
        if not data_dir.is_dir():
            raise CommandError(f"{data_dir} is not a directory")
        specs = KINDS[kind](data_dir)
        if model:
            for spec in specs:
                spec["config"]["model"] = model
        try:
            with transaction.atomic():
                target, created = Challenge.objects.get_or_create(
                    slug=challenge, defaults={"title": title or challenge.replace("-", " ").title()})
                if created:
                    Phase.objects.create(challenge=target, name="Development", starts_at=timezone.now(),
                                         ends_at=timezone.now() + timedelta(days=90))
                for spec in specs:
                    if target.benchmarks.filter(slug=spec["slug"]).exists():
                        raise CommandError(f"challenge {challenge!r} already has a benchmark {spec['slug']!r}")
                    benchmark = Benchmark.objects.create(
                        challenge=target, slug=spec["slug"], title=spec["title"], type_slug=spec["type"],
                        task=spec["task"], config=spec["config"])
                    artifacts = services.attach_data_directory(benchmark, data_dir)
                    sizes = ", ".join(f"{a.visibility} {a.size_bytes:,d} bytes" for a in artifacts)
                    self.stdout.write(f"created {benchmark} ({sizes})")
        except evaluation.EvaluationError as error:
            raise CommandError(f"{data_dir}: {error}") from None
        if created:
            self.stdout.write(f"challenge {challenge!r} was created as a draft: edit its phase and publish it in the admin")
