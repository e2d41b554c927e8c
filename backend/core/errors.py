"""The error every service raises for a request it refuses; views turn it into a 4xx response."""
from dataclasses import dataclass


@dataclass
class Rejected(Exception):
    """``field`` and ``message`` go to the user as-is (HTTP ``status_code``, 400 unless said otherwise)."""

    field: str
    message: str
    status_code: int = 400

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"
