"""Remove upload spool files left by killed web processes (the job sweep does this on its own host;
run this from cron on web hosts that do not share its FILE_UPLOAD_TEMP_DIR)."""
from django.conf import settings
from django.core.management.base import BaseCommand

from backend.core.uploads import sweep_spool


class Command(BaseCommand):
    help = "Delete spooled upload files older than UPLOAD_SPOOL_MAX_AGE_SECONDS from FILE_UPLOAD_TEMP_DIR."

    def handle(self, *args, **options):
        removed = sweep_spool()
        self.stdout.write(f"removed {len(removed)} file(s) from {settings.FILE_UPLOAD_TEMP_DIR}")
