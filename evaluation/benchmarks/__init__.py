"""Built-in benchmark types; importing a module registers its type."""
from . import debugging, slicing, speech_selection, test_set, training_set, valuation, vision_selection  # noqa: F401
