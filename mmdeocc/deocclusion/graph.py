"""Deprecated: moved to :mod:`mmdeocc.structures.order`."""
from mmdeocc.structures.order import *  # noqa: F401,F403
from mmdeocc.utils.deprecation import warn_moved

warn_moved(__name__, 'mmdeocc.structures.order')
