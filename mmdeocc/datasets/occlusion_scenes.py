"""Deprecated: moved to :mod:`mmdeocc.datasets.synthesis`.

The scene dataclass is now :class:`~mmdeocc.datasets.synthesis.SyntheticScene`
(``Scene`` here is an alias, to avoid the clash with
:class:`mmdeocc.deocclusion.Scene`).
"""
from mmdeocc.datasets.synthesis import *  # noqa: F401,F403
from mmdeocc.datasets.synthesis import SyntheticScene
# Order helpers this module used to re-export.
from mmdeocc.structures.order import (  # noqa: F401
    occlusion_edges, order_from_edges, touch_matrix)
from mmdeocc.utils.deprecation import warn_moved

warn_moved(__name__, 'mmdeocc.datasets.synthesis')

Scene = SyntheticScene
