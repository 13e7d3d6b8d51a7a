"""Engine components: hooks and model wrappers."""
from .hooks import *  # noqa: F401,F403
