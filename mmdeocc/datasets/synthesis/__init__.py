"""Synthetic occlusion scenes with exact amodal and order ground truth.

Binary silhouettes (e.g. MPEG-7 CE-Shape-1) are scaled, rotated, flipped and
placed near each other in an image, given a random depth order and painted
back to front; the masks, depth order and occlusion edges are exact by
construction (the rules: :mod:`.scene`).

Modules, one job each:

- :mod:`.shapes`: find, read, save and load silhouettes (:class:`Shape`);
- :mod:`.textures`: photo crops for textured scenes (:class:`TextureBank`);
- :mod:`.placement`: object placement with a controlled occlusion level
  (:data:`OCCLUSION_LEVELS`);
- :mod:`.painting`: the RGB image from the visible masks;
- :mod:`.scene`: one composed scene (:class:`SyntheticScene`,
  :func:`make_scene`);
- :mod:`.writers`: a scene as amodal-COCO / COCOA entries, PNG images;
- :mod:`.generate`: the batch job writing a dataset
  (:func:`generate_scenes`).

Nothing here registers into an MMEngine registry.
"""
from .generate import generate_scenes
from .placement import OCCLUSION_LEVELS
from .scene import (SceneGenerationError, SyntheticScene, compose_modal,
                    make_scene, scene_rng)
from .shapes import (SHAPE_EXTENSIONS, Shape, ShapeError, load_shapes,
                     read_shape_mask, save_shape_png, shape_categories)
from .textures import TEXTURE_EXTENSIONS, TextureBank
from .writers import FORMATS, scene_to_amodal_coco, scene_to_cocoa, write_png

__all__ = [
    'FORMATS', 'OCCLUSION_LEVELS', 'SHAPE_EXTENSIONS', 'TEXTURE_EXTENSIONS',
    'ShapeError', 'SceneGenerationError', 'Shape', 'shape_categories',
    'read_shape_mask', 'save_shape_png', 'load_shapes', 'TextureBank',
    'SyntheticScene', 'compose_modal', 'make_scene', 'scene_rng',
    'scene_to_amodal_coco', 'scene_to_cocoa', 'write_png', 'generate_scenes'
]
