"""Built-in benchmark types; importing a module registers its type."""
from . import speech_selection, vision_selection  # noqa: F401
