"""Create the demo: accounts, challenges with their data, and baseline submissions. Safe to re-run."""
import tempfile
from datetime import timedelta
from pathlib import Path

from django.core.management.base import BaseCommand
from django.utils import timezone

from backend.accounts.models import User
from backend.challenges import services as challenge_services
from backend.challenges.models import Benchmark, Challenge, Phase
from fixtures import demo

DEMO_ACCOUNTS = [
    # username, role, password, staff (admin access)
    ("organizer", User.Role.ORGANIZER, "demo-organizer-pass", True),
    ("participant", User.Role.PARTICIPANT, "demo-participant-pass", False),
    ("annotator", User.Role.ANNOTATOR, "demo-annotator-pass", False),
    # Three annotators, so a test-set item can reach consensus (3 matching votes) without an override.
    ("annotator2", User.Role.ANNOTATOR, "demo-annotator2-pass", False),
    ("annotator3", User.Role.ANNOTATOR, "demo-annotator3-pass", False),
]
DEMO_ANNOTATORS = [name for name, role, _, _ in DEMO_ACCOUNTS if role == User.Role.ANNOTATOR]


class Command(BaseCommand):
    help = "Load demo accounts, challenges, benchmark data and baselines (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--no-baselines", action="store_true", help="do not queue baseline submissions")

    def handle(self, *args, no_baselines=False, **options):
        users = self.accounts()
        organizer = users["organizer"]
        with tempfile.TemporaryDirectory() as tmp:
            for spec in demo.CHALLENGES:
                challenge, created = Challenge.objects.get_or_create(
                    slug=spec["slug"],
                    defaults={"title": spec["title"], "summary": spec["summary"], "rules": spec["rules"],
                              "status": Challenge.Status.PUBLISHED},
                )
                self.add_people(challenge, users)
                if not challenge.phases.exists():
                    now = timezone.now()
                    for order, phase_spec in enumerate(spec["phases"]):
                        Phase.objects.create(
                            challenge=challenge, order=order, name=phase_spec["name"],
                            starts_at=now + timedelta(days=phase_spec.get("starts_in_days", 0)) - timedelta(minutes=1),
                            ends_at=now + timedelta(days=phase_spec["ends_in_days"]),
                            max_submissions_per_day=phase_spec.get("per_day"),
                            max_submissions_total=phase_spec.get("total"),
                            leaderboard_visibility=phase_spec.get("visibility", Phase.Visibility.PUBLIC),
                            open_division=True, closed_division=phase_spec.get("closed", False),
                        )
                for order, bspec in enumerate(spec["benchmarks"]):
                    benchmark, _ = Benchmark.objects.get_or_create(
                        challenge=challenge, slug=bspec["slug"],
                        defaults={"title": bspec["title"], "type_slug": bspec["type"], "task": bspec["task"],
                                  "description": bspec["description"], "config": bspec.get("config", {}), "order": order},
                    )
                    if not benchmark.artifacts.exists():
                        data_dir = Path(tmp) / challenge.slug / benchmark.slug
                        self.stdout.write(f"building data for {benchmark} ...")
                        overrides = bspec["build"](data_dir) or {}
                        if overrides:
                            benchmark.config = {**benchmark.config, **overrides}
                            benchmark.save(update_fields=["config"])
                        challenge_services.attach_data_directory(benchmark, data_dir)
                    if not no_baselines:
                        self._baselines(benchmark, bspec, organizer, Path(tmp))
        self.stdout.write(self.style.SUCCESS("Demo ready. Accounts (demo only):"))
        for name, role, password, _ in DEMO_ACCOUNTS:
            self.stdout.write(f"  {role:12s} user {name!r:14s} password {password!r}")

    def accounts(self) -> dict:
        return {name: self._account(name, role, password, staff) for name, role, password, staff in DEMO_ACCOUNTS}

    @staticmethod
    def add_people(challenge, users) -> None:
        """The demo organizer organizes, and the three demo annotators verify, every demo challenge."""
        challenge.organizers.add(users["organizer"])
        challenge.annotators.add(*(users[name] for name in DEMO_ANNOTATORS))

    def _account(self, name, role, password, staff):
        user, created = User.objects.get_or_create(username=name, defaults={"role": role, "is_staff": staff})
        if created:
            user.set_password(password)
            user.save()
            if staff:
                demo.grant_organizer_permissions(user)
        return user

    def _baselines(self, benchmark, bspec, organizer, tmp):
        from django.core.files import File

        from backend.submissions import services as submission_services

        existing = set(benchmark.submissions.filter(is_baseline=True).values_list("baseline_name", flat=True))
        # Baselines see exactly what participants see: the public files only.
        data_dir = challenge_services.extract_public_data(benchmark, tmp / f"public-{benchmark.pk}")
        for name, make in bspec.get("baselines", {}).items():
            if name in existing:
                continue
            path = make(data_dir, tmp / f"{benchmark.pk}-{name}", benchmark.effective_config)
            with open(path, "rb") as fh:
                submission_services.create_submission(
                    user=organizer, benchmark=benchmark, uploaded_file=File(fh, name=path.name),
                    description=f"{name} baseline", is_baseline=True, baseline_name=name,
                )
            self.stdout.write(f"queued baseline {name!r} for {benchmark}")
