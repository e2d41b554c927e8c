from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person on the platform. ``role`` decides what they may reach besides public pages."""

    class Role(models.TextChoices):
        PARTICIPANT = "participant", "Participant"
        ORGANIZER = "organizer", "Organizer"
        ANNOTATOR = "annotator", "Annotator"

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.PARTICIPANT)

    @property
    def is_organizer(self) -> bool:
        return self.is_superuser or self.role == self.Role.ORGANIZER

    @property
    def is_annotator(self) -> bool:
        """Whether to show the verification tools at all; which queues they reach is per challenge
        (``Challenge.annotators`` and ``organizers``, ``challenges.selectors.annotates``)."""
        return self.is_organizer or self.role == self.Role.ANNOTATOR or self.annotated_challenges.exists()


class Team(models.Model):
    """Participants who submit together; a team counts as one entrant on leaderboards and limits."""

    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(User, related_name="teams", blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name
