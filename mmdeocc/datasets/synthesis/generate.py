"""The batch job: generate a whole scene dataset (images + annotations)."""
import json
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Union

from tqdm import tqdm

from mmdeocc.utils.io import atomic_write_bytes
from mmdeocc.utils.validation import check_choice
from .scene import make_scene, scene_rng
from .shapes import Shape
from .textures import TextureBank
from .writers import FORMATS, scene_to_amodal_coco, scene_to_cocoa, write_png

__all__ = ['generate_scenes']


def generate_scenes(shapes: Sequence[Shape],
                    categories: List[Dict[str, Any]],
                    out_dir: str,
                    num_scenes: int,
                    seed: int = 0,
                    fmt: str = 'amodal_coco',
                    textures: Optional[TextureBank] = None,
                    overlap_range: Union[str, Sequence[float]] = 'mixed',
                    overwrite: bool = False,
                    progress: bool = True,
                    info: Optional[Dict[str, Any]] = None,
                    **scene_kwargs: Any) -> str:
    """Generate a dataset of scenes: PNG images + one annotation file.

    Layout: ``out_dir/images/000000.png, ...`` and
    ``out_dir/annotations.json`` (the project's amodal COCO format or the
    COCOA format). Every file is written atomically and the annotation file
    last, so its presence marks a complete dataset. Deterministic under
    ``seed`` (see :func:`~.scene.scene_rng`).

    Args:
        shapes (Sequence[Shape]): Silhouettes
            (:func:`~.shapes.load_shapes`).
        categories (list[dict]): COCO categories
            (:func:`~.shapes.load_shapes`).
        out_dir (str): Output folder.
        num_scenes (int): Number of images.
        seed (int): Random seed.
        fmt (str): ``'amodal_coco'`` or ``'cocoa'`` (:data:`FORMATS`).
        textures (TextureBank, optional): Photo textures.
        overlap_range (str | tuple): Occlusion level of
            :func:`~.scene.make_scene`; ``'mixed'`` draws a level per scene.
        overwrite (bool): Replace an existing dataset in ``out_dir``.
        progress (bool): Show a progress bar.
        info (dict, optional): Extra entries for the file's ``info``.
        **scene_kwargs: Other arguments of :func:`~.scene.make_scene`.

    Returns:
        str: Path of the annotation file.

    Raises:
        ValueError: Unknown ``fmt`` or ``num_scenes < 1``.
        FileExistsError: A dataset exists in ``out_dir`` and not
            ``overwrite``.
    """
    check_choice('fmt', fmt, FORMATS)
    if num_scenes < 1:
        raise ValueError(f'num_scenes must be >= 1, got {num_scenes}')
    ann_path = osp.join(out_dir, 'annotations.json')
    if osp.exists(ann_path) and not overwrite:
        raise FileExistsError(
            f'{ann_path} exists; pass overwrite=True (--overwrite) to '
            'replace the dataset')
    img_dir = osp.join(out_dir, 'images')
    os.makedirs(img_dir, exist_ok=True)
    images, annotations = [], []
    next_ann_id = 1
    for index in tqdm(range(num_scenes), disable=not progress,
                      desc='occlusion scenes'):
        rng = scene_rng(seed, index)
        scene = make_scene(shapes, rng, overlap_range=overlap_range,
                           textures=textures, polygonize=fmt == 'cocoa',
                           **scene_kwargs)
        file_name = f'{index:06d}.png'
        write_png(scene.image, osp.join(img_dir, file_name))
        image_id = index + 1
        if fmt == 'amodal_coco':
            image, anns = scene_to_amodal_coco(scene, image_id, file_name,
                                               next_ann_id)
            annotations.extend(anns)
            next_ann_id += len(anns)
        else:
            image, ann = scene_to_cocoa(scene, image_id, file_name)
            annotations.append(ann)
        images.append(image)
    meta = dict(
        description='mmdeocc synthetic occlusion scenes',
        format=fmt,
        seed=int(seed),
        num_scenes=int(num_scenes),
        overlap_range=overlap_range if isinstance(overlap_range, str) else
        [float(v) for v in overlap_range],
        textures=textures is not None)
    meta.update(info or {})
    payload = dict(info=meta, images=images, annotations=annotations)
    if fmt == 'amodal_coco':
        payload['categories'] = categories
    atomic_write_bytes(json.dumps(payload).encode('utf-8'), ann_path)
    return ann_path
