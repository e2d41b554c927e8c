from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person on the platform. ``role`` decides what they may reach besides public pages."""

    class Role(models.TextChoices):
        PARTICIPANT = "participant", "Participant"
        ORGANIZER = "organizer", "Organizer"
        ANNOTATOR = "annotator", "Annotator"

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.PARTICIPANT)
    affiliation = models.CharField(max_length=200, blank=True, help_text="University, company or lab; shown on the profile.")
    # Organizer role / admin access came from being added to a challenge as a co-organizer (not from a site
    # administrator), so it is taken back once they organize no challenge any more.
    organizer_access_from_challenges = models.BooleanField(default=False, editable=False)

    @property
    def is_organizer(self) -> bool:
        return self.is_superuser or self.role == self.Role.ORGANIZER

    @property
    def is_annotator(self) -> bool:
        """Whether to show the verification tools at all; which queues they reach is per challenge
        (``Challenge.annotators`` and ``organizers``, ``challenges.selectors.annotates``)."""
        return self.is_organizer or self.role == self.Role.ANNOTATOR or self.annotated_challenges.exists()


class Team(models.Model):
    """Participants who submit together; a team counts as one entrant on leaderboards and limits.

    A team belongs to one challenge, and a user is in at most one team per challenge
    (``accounts.services``); while they are, every upload of theirs to that challenge is the team's.
    Teams without a challenge are the older, admin-made kind, chosen explicitly per upload."""

    name = models.CharField(max_length=100, unique=True)
    # A string reference: the team is scoped by a challenge, but accounts imports nothing above it.
    challenge = models.ForeignKey("challenges.Challenge", null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="teams")
    members = models.ManyToManyField(User, related_name="teams", blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # The current invitation link's secret (blank: no link); a new link or a revoke replaces it, so an
    # old link stops working. Links also expire TEAM_INVITE_DAYS after they were made.
    invite_token = models.CharField(max_length=64, blank=True, db_index=True)
    invite_created_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class Notification(models.Model):
    """An on-page message for one user (e.g. "your submission was scored"); the badge counts unread ones."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    message = models.CharField(max_length=500)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return f"{self.user}: {self.message}"
