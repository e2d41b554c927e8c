"""Add (or replace) a concealed task of a benchmark from a directory in the type's official layout."""
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

import evaluation
from backend.challenges.models import Benchmark
from backend.closed_division import services


class Command(BaseCommand):
    help = ("Validate a data directory and attach it to a benchmark as a concealed task: the public part is what "
            "closed-division algorithms receive in the sandbox; participants never see either part.")

    def add_arguments(self, parser):
        parser.add_argument("challenge", help="challenge slug")
        parser.add_argument("benchmark", help="benchmark slug")
        parser.add_argument("name", help="task name (organizers only), e.g. 'German, 5 new words'")
        parser.add_argument("data_dir", type=Path)
        parser.add_argument("--config", default="{}", help="JSON overrides of the benchmark's config for this task")
        parser.add_argument("--order", type=int, default=0)

    def handle(self, challenge, benchmark, name, data_dir, config, order, **options):
        try:
            target = Benchmark.objects.get(challenge__slug=challenge, slug=benchmark)
        except Benchmark.DoesNotExist:
            raise CommandError(f"no benchmark {benchmark!r} in challenge {challenge!r}") from None
        if not data_dir.is_dir():
            raise CommandError(f"{data_dir} is not a directory")
        try:
            overrides = json.loads(config)
        except ValueError as error:
            raise CommandError(f"--config is not JSON: {error}") from None
        try:
            task = services.attach_concealed_data(target, data_dir, name=name, config=overrides, order=order)
        except evaluation.EvaluationError as error:
            raise CommandError(f"{data_dir}: {error}") from None
        self.stdout.write(f"concealed task {task.name!r} of {target}: {task.size_bytes:,d} bytes "
                          f"(public sha256 {task.public_sha256[:16]}…, hidden {task.hidden_sha256[:16] or '-'}…)")
