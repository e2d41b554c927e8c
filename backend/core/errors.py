"""The error every service raises for a request it refuses; views turn it into a 4xx response."""
from dataclasses import dataclass

# DRF's name for errors about the request as a whole rather than one field (e.g. a submission limit).
NON_FIELD = "non_field_errors"


@dataclass
class Rejected(Exception):
    """``field`` and ``message`` go to the user as-is (HTTP ``status_code``, 400 unless said otherwise).
    ``field`` is ``NON_FIELD`` when no one field is at fault: then the message is a sentence of its own.
    ``retry_after`` (seconds) goes out as a ``Retry-After`` header: the request may succeed later (503, 429)."""

    field: str
    message: str
    status_code: int = 400
    retry_after: int | None = None

    @property
    def sentence(self) -> str:
        """What a page or the API's ``detail`` shows: ``field: message``, or the message alone."""
        if self.field == NON_FIELD:
            return self.message[:1].upper() + self.message[1:]
        return f"{self.field}: {self.message}"

    def __str__(self) -> str:
        return self.sentence
