"""Deprecated: moved to :mod:`mmdeocc.structures.touch`."""
from mmdeocc.structures.touch import *  # noqa: F401,F403
from mmdeocc.utils.deprecation import warn_moved

warn_moved(__name__, 'mmdeocc.structures.touch')
