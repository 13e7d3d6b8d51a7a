"""Scene re-composition (METHOD 3.5), defined in
:mod:`mmdeocc.structures.recompose` (pure operations on content layers, so
that the training transforms can use them too) and re-exported here."""
from mmdeocc.structures.recompose import (Composition, LayerCrop, Placement,
                                          RecomposeError, SceneRecomposer,
                                          recompose, shift_array)

__all__ = [
    'SceneRecomposer', 'RecomposeError', 'recompose', 'shift_array',
    'Placement', 'LayerCrop', 'Composition'
]
