"""Build a pinned evaluation environment (evaluation/environments.py) on this machine; idempotent."""
import time

from django.core.management.base import BaseCommand, CommandError

from evaluation import environments


class Command(BaseCommand):
    help = ("Build an evaluation environment's virtual environment under var/environments from its pins "
            "(binary wheels from PyPI). Run it on every worker machine before pinning a benchmark to it.")

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", metavar="name",
                            help=f"environment(s) to build: {', '.join(environments.names())} (default: all)")

    def handle(self, names, **options):
        for name in names or environments.names():
            started = time.monotonic()
            try:
                built = environments.build(name, log=lambda line: self.stdout.write(f"  {line}"))
            except environments.EnvironmentUnavailable as error:
                raise CommandError(str(error)) from None
            if built:
                self.stdout.write(self.style.SUCCESS(f"{name}: built in {time.monotonic() - started:.0f} s"))
            elif environments.get(name).is_current:
                self.stdout.write(f"{name}: the platform's own interpreter, nothing to build")
            else:
                self.stdout.write(f"{name}: already built at {environments.location(name)}")
