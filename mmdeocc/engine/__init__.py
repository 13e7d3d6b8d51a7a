"""Engine components: hooks, model wrappers and optimiser constructors."""
from .cpu_amp import *  # noqa: F401,F403
from .hooks import *  # noqa: F401,F403
from .model_wrappers import *  # noqa: F401,F403
from .optim_wrappers import *  # noqa: F401,F403
