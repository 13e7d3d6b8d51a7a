"""Shared test fixtures: tiny annotation files in the exact published formats.

The files are written from small synthetic scenes whose geometry, depth
order, modal and amodal masks are known, so tests can check readers,
datasets, metrics and the de-occlusion core against exact ground truth. No
test needs ``../shared``.

Session-scoped fixtures (treat the files as read-only; copy them before
editing):

``kins2017_ann``    KINS older release (``instances_*.json``): per annotation
                    ``segmentation`` (amodal polygons), ``bbox`` (amodal),
                    ``inmodal_seg`` (modal, compressed RLE with str counts),
                    ``inmodal_bbox``, ``area``, ``iscrowd``. No order fields
                    (``gt_order`` is None).
``kins2020_ann``    KINS 2020 (``update_*_2020.json``): ``a_segm``/``a_bbox``/
                    ``a_area`` (amodal polygons), ``i_segm``/``i_bbox``/
                    ``i_area`` (modal polygons), ``oco_id`` (cluster),
                    ``ico_id`` (rank in the cluster, 1 = nearest).
``cocoa_ann``       COCOA (``COCO_amodal_*.json``): one annotation entry per
                    image with ``regions`` (flat amodal polygon
                    ``segmentation``, ``visible_mask``/``invisible_mask`` RLE
                    only when occluded, ``order``, ``isStuff``, ``name``,
                    ``area``, ``occlude_rate``) and ``depth_constraint``;
                    entries are NOT in the order of ``images`` (join by
                    ``image_id``); includes a stuff region and a fully
                    occluded region (empty ``visible_mask``).
``coco_ann``        Plain COCO instances (modal polygons) plus one
                    ``iscrowd=1`` RLE annotation, which is not an instance.
``amodal_coco_ann`` The mmdeocc amodal format (``docs/design.md``): modal
                    ``segmentation`` polygons, ``amodal_segmentation`` RLE,
                    ``amodal_bbox``, ``amodal_area``, ``depth``; per image
                    ``occlusion_edges``.
``coco128_ann_file`` Path of the real COCO128 annotations in the repository
                    (``data/coco128/annotations/instances_train2017.json``).

Each annotation fixture is an :class:`AnnotationFixture` with the expected
reader output: ``instances[img_id]`` is the list of
:class:`ExpectedInstance` (``ann_id``, ``category_id``, ``bbox_label``,
``modal``/``amodal`` bool ``(H, W)`` masks decoded from exactly what was
written, ``is_stuff``, ``depth`` with 0 = nearest) in the order the reader
returns them, and ``gt_order[img_id]`` the expected annotated order matrix
(``(N, N)`` int8, ``+1`` at ``[i, j]`` = i occludes j) or None.

The scenes (all images 80 x 60): image 11 has a far car A (rect 8..40 x
10..40), a van B in front of it (30..60 x 5..45) and a cyclist C nearest
(50..75 x 30..55) - a chain A < B < C; image 12 has two separate objects
D and E; image 13 has no instance. COCOA adds a stuff region G (ground,
behind everything) to image 11 and a region F fully hidden behind D to
image 12.
"""
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
COCO128_ANN = REPO_ROOT / 'data/coco128/annotations/instances_train2017.json'

HEIGHT, WIDTH = 60, 80

KINS_CATEGORIES = [
    dict(id=1, name='cyclist', supercategory='human'),
    dict(id=2, name='pedestrian', supercategory='human'),
    dict(id=4, name='car', supercategory='vehicle'),
    dict(id=5, name='tram', supercategory='vehicle'),
    dict(id=6, name='truck', supercategory='vehicle'),
    dict(id=7, name='van', supercategory='vehicle'),
    dict(id=8, name='misc', supercategory='vehicle'),
]
COCO_CATEGORIES = [
    dict(id=1, name='person', supercategory='person'),
    dict(id=3, name='car', supercategory='vehicle'),
    dict(id=18, name='dog', supercategory='animal'),
    dict(id=44, name='bottle', supercategory='kitchen'),
]


@dataclass
class ExpectedInstance:
    """What a reader must return for one instance."""
    ann_id: int
    category_id: int
    bbox_label: int
    modal: np.ndarray
    amodal: Optional[np.ndarray]
    is_stuff: bool = False
    depth: int = 0


@dataclass
class AnnotationFixture:
    """A written annotation file and the reader output it implies."""
    path: Path
    data_format: str  # reader name: 'kins' | 'cocoa' | 'coco' | 'amodal_coco'
    release: str  # 'kins2017' | 'kins2020' | 'cocoa' | 'coco' | 'amodal_coco'
    images: List[dict]
    categories: List[dict]
    instances: Dict[int, List[ExpectedInstance]] = field(default_factory=dict)
    gt_order: Dict[int, Optional[np.ndarray]] = field(default_factory=dict)


def rect(x0: float, y0: float, x1: float, y1: float) -> List[float]:
    """A rectangle as a flat COCO polygon."""
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def polygons_to_mask(polys: List[List[float]]) -> np.ndarray:
    """Rasterise COCO polygons with pycocotools (bool ``(H, W)``)."""
    if not polys:
        return np.zeros((HEIGHT, WIDTH), bool)
    rles = mask_utils.frPyObjects(polys, HEIGHT, WIDTH)
    return mask_utils.decode(mask_utils.merge(rles)).astype(bool)


def mask_to_rle(mask: np.ndarray) -> dict:
    """Compressed RLE with str counts (the published JSON form)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=[int(v) for v in rle['size']],
                counts=rle['counts'].decode('ascii'))


def tight_box(mask: np.ndarray) -> List[float]:
    """Tight ``xywh`` box of a mask (zeros when empty)."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [float(xs.min()), float(ys.min()),
            float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


@dataclass
class SceneObject:
    name: str
    image_id: int
    kins_category: int
    coco_category: int
    amodal_poly: List[float]
    modal_polys: List[List[float]]  # explicit visible part as polygons
    depth: int  # 0 = nearest within its image
    cluster: int  # KINS occlusion cluster id
    is_stuff: bool = False


# A: far car; B: van in front of A; C: cyclist in front of B.
SCENE = [
    SceneObject('A', 11, 4, 3, rect(8, 10, 40, 40), [rect(8, 10, 30, 40)],
                depth=2, cluster=1),
    SceneObject('B', 11, 7, 1, rect(30, 5, 60, 45),
                [[30, 5, 60, 5, 60, 30, 50, 30, 50, 45, 30, 45]],
                depth=1, cluster=1),
    SceneObject('C', 11, 1, 18, rect(50, 30, 75, 55), [rect(50, 30, 75, 55)],
                depth=0, cluster=1),
    SceneObject('D', 12, 4, 3, rect(5, 5, 25, 25), [rect(5, 5, 25, 25)],
                depth=0, cluster=2),
    SceneObject('E', 12, 6, 44, rect(45, 10, 70, 50), [rect(45, 10, 70, 50)],
                depth=0, cluster=3),
]
# COCOA extras: stuff region G behind everything in image 11, region F fully
# hidden behind D in image 12.
COCOA_EXTRA = [
    SceneObject('G', 11, 0, 0, rect(0, 50, 80, 60), [], depth=3, cluster=1,
                is_stuff=True),
    SceneObject('F', 12, 0, 0, rect(10, 10, 20, 20), [], depth=1, cluster=2),
]
IMAGES = [
    dict(id=11, file_name='scene_011.png', height=HEIGHT, width=WIDTH),
    dict(id=12, file_name='scene_012.png', height=HEIGHT, width=WIDTH),
    dict(id=13, file_name='scene_013.png', height=HEIGHT, width=WIDTH),
]


def occluded_modal(obj: SceneObject, scene: List[SceneObject]) -> np.ndarray:
    """Amodal mask minus the amodal masks of nearer objects of its image."""
    modal = polygons_to_mask([obj.amodal_poly])
    for other in scene:
        if other.image_id == obj.image_id and other.depth < obj.depth:
            modal &= ~polygons_to_mask([other.amodal_poly])
    return modal


def depth_order(objs: List[SceneObject]) -> np.ndarray:
    """Expected order: nearer occludes farther where amodal masks overlap."""
    n = len(objs)
    order = np.zeros((n, n), np.int8)
    for i in range(n):
        for j in range(n):
            if i == j or objs[i].depth >= objs[j].depth:
                continue
            overlap = polygons_to_mask([objs[i].amodal_poly]) & \
                polygons_to_mask([objs[j].amodal_poly])
            if overlap.any():
                order[i, j], order[j, i] = 1, -1
    return order


def _label(categories: List[dict], cid: int) -> int:
    return sorted(c['id'] for c in categories).index(cid)


def _dump(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


def _by_image(objs: List[SceneObject]) -> Dict[int, List[SceneObject]]:
    return {img['id']: [o for o in objs if o.image_id == img['id']]
            for img in IMAGES}


def write_kins(path: Path, release: str) -> AnnotationFixture:
    """Write a KINS file of the given release (``kins2017``/``kins2020``)."""
    anns, fixture = [], AnnotationFixture(path, 'kins', release, IMAGES,
                                          KINS_CATEGORIES)
    ann_id = 100
    for img_id, objs in _by_image(SCENE).items():
        fixture.instances[img_id] = []
        ranks = {}
        for obj in objs:  # rank inside the cluster, 1 = nearest
            same = sorted({o.depth for o in objs if o.cluster == obj.cluster})
            ranks[obj.name] = same.index(obj.depth) + 1
        for obj in objs:
            ann_id += 1
            amodal = polygons_to_mask([obj.amodal_poly])
            if release == 'kins2017':
                modal = occluded_modal(obj, SCENE)
                ann = dict(
                    id=ann_id, image_id=img_id,
                    category_id=obj.kins_category,
                    segmentation=[obj.amodal_poly], bbox=tight_box(amodal),
                    area=float(amodal.sum()), iscrowd=0,
                    inmodal_seg=mask_to_rle(modal),
                    inmodal_bbox=tight_box(modal))
            else:
                modal = polygons_to_mask(obj.modal_polys)
                ann = dict(
                    id=ann_id, image_id=img_id,
                    category_id=obj.kins_category,
                    a_segm=[obj.amodal_poly], a_bbox=tight_box(amodal),
                    a_area=int(amodal.sum()),
                    i_segm=obj.modal_polys, i_bbox=tight_box(modal),
                    i_area=int(modal.sum()), iscrowd=0,
                    oco_id=obj.cluster, ico_id=ranks[obj.name])
            anns.append(ann)
            fixture.instances[img_id].append(
                ExpectedInstance(ann_id, obj.kins_category,
                                 _label(KINS_CATEGORIES, obj.kins_category),
                                 modal, amodal, depth=obj.depth))
        fixture.gt_order[img_id] = (depth_order(objs) if release == 'kins2020'
                                    and objs else None)
    # interleave images in the annotation list: readers group by image_id
    anns = anns[3:] + anns[:3]
    _dump(path, dict(images=IMAGES, annotations=anns,
                     categories=KINS_CATEGORIES))
    return fixture


def write_cocoa(path: Path) -> AnnotationFixture:
    """Write a COCOA file (one annotation entry per image, with regions)."""
    fixture = AnnotationFixture(path, 'cocoa', 'cocoa', IMAGES,
                                [dict(id=1, name='object',
                                      supercategory='object')])
    everything = SCENE + COCOA_EXTRA
    entries = []
    for img_id, objs in _by_image(everything).items():
        if not objs:
            continue  # image 13 has no annotation entry at all
        # COCOA lists regions by depth rank (order 1 = nearest)
        objs = sorted(objs, key=lambda o: o.depth)
        regions, expected = [], []
        for k, obj in enumerate(objs):
            amodal = polygons_to_mask([obj.amodal_poly])
            modal = occluded_modal(obj, everything)
            region = dict(segmentation=obj.amodal_poly,
                          area=float(amodal.sum()), isStuff=int(obj.is_stuff),
                          name=obj.name.lower(), order=obj.depth + 1,
                          occlude_rate=float(1 - modal.sum() / amodal.sum()))
            if (modal != amodal).any():
                region['visible_mask'] = mask_to_rle(modal)
                region['invisible_mask'] = mask_to_rle(amodal & ~modal)
            regions.append(region)
            expected.append(
                ExpectedInstance(img_id * 1000 + k, 1, 0, modal, amodal,
                                 is_stuff=obj.is_stuff, depth=obj.depth))
        order = depth_order(objs)
        constraint = ','.join(f'{i + 1}-{j + 1}'
                              for i, j in zip(*np.nonzero(order == 1)))
        entries.append(dict(image_id=img_id, id=img_id, regions=regions,
                            depth_constraint=constraint, size=len(regions)))
        fixture.instances[img_id] = expected
        fixture.gt_order[img_id] = order
    fixture.instances[13] = []
    fixture.gt_order[13] = None
    entries.reverse()  # not in the order of images: join by image_id
    _dump(path, dict(images=IMAGES, annotations=entries))
    return fixture


def write_coco(path: Path, amodal: bool) -> AnnotationFixture:
    """Write a plain COCO (``amodal=False``) or mmdeocc amodal file."""
    release = 'amodal_coco' if amodal else 'coco'
    fixture = AnnotationFixture(path, release, release, [], COCO_CATEGORIES)
    images = [dict(img) for img in IMAGES]
    anns, ann_id = [], 500
    for img, (img_id, objs) in zip(images, _by_image(SCENE).items()):
        fixture.instances[img_id] = []
        ids = []
        for obj in objs:
            ann_id += 1
            ids.append(ann_id)
            modal = polygons_to_mask(obj.modal_polys)
            amodal_mask = polygons_to_mask([obj.amodal_poly])
            ann = dict(id=ann_id, image_id=img_id,
                       category_id=obj.coco_category,
                       segmentation=obj.modal_polys, bbox=tight_box(modal),
                       area=float(modal.sum()), iscrowd=0)
            if amodal:
                ann.update(amodal_segmentation=mask_to_rle(amodal_mask),
                           amodal_bbox=tight_box(amodal_mask),
                           amodal_area=float(amodal_mask.sum()),
                           depth=obj.depth)
            anns.append(ann)
            fixture.instances[img_id].append(
                ExpectedInstance(ann_id, obj.coco_category,
                                 _label(COCO_CATEGORIES, obj.coco_category),
                                 modal, amodal_mask if amodal else None,
                                 depth=obj.depth))
        order = depth_order(objs) if objs else np.zeros((0, 0), np.int8)
        if amodal:
            img['occlusion_edges'] = [[ids[i], ids[j]]
                                      for i, j in zip(*np.nonzero(order == 1))]
            fixture.gt_order[img_id] = order
        else:
            fixture.gt_order[img_id] = None
    # a crowd region (iscrowd=1, RLE) is not an instance
    crowd = np.zeros((HEIGHT, WIDTH), bool)
    crowd[40:58, 2:20] = True
    anns.insert(2, dict(id=999, image_id=12, category_id=1,
                        segmentation=mask_to_rle(crowd),
                        bbox=tight_box(crowd), area=float(crowd.sum()),
                        iscrowd=1))
    fixture.images = images
    _dump(path, dict(images=images, annotations=anns,
                     categories=COCO_CATEGORIES,
                     info=dict(description='mmdeocc test fixture')))
    return fixture


@pytest.fixture(scope='session')
def kins2017_ann(tmp_path_factory) -> AnnotationFixture:
    """KINS older release file (``instances_train.json``)."""
    return write_kins(
        tmp_path_factory.mktemp('kins2017') / 'instances_train.json',
        'kins2017')


@pytest.fixture(scope='session')
def kins2020_ann(tmp_path_factory) -> AnnotationFixture:
    """KINS 2020 release file (``update_train_2020.json``)."""
    return write_kins(
        tmp_path_factory.mktemp('kins2020') / 'update_train_2020.json',
        'kins2020')


@pytest.fixture(scope='session')
def cocoa_ann(tmp_path_factory) -> AnnotationFixture:
    """COCOA file (``COCO_amodal_val2014.json``)."""
    return write_cocoa(
        tmp_path_factory.mktemp('cocoa') / 'COCO_amodal_val2014.json')


@pytest.fixture(scope='session')
def coco_ann(tmp_path_factory) -> AnnotationFixture:
    """Plain COCO instances file (modal polygons, one crowd annotation)."""
    return write_coco(
        tmp_path_factory.mktemp('coco') / 'instances_val.json', amodal=False)


@pytest.fixture(scope='session')
def amodal_coco_ann(tmp_path_factory) -> AnnotationFixture:
    """mmdeocc amodal COCO file."""
    return write_coco(
        tmp_path_factory.mktemp('amodal_coco') / 'amodal_val.json',
        amodal=True)


@pytest.fixture(scope='session')
def coco128_ann_file() -> Path:
    """The real COCO128 annotations shipped in ``data/coco128``."""
    assert COCO128_ANN.is_file(), f'missing {COCO128_ANN}'
    return COCO128_ANN


def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def one_torch_thread():
    """One intra-op torch thread during a test, restored afterwards: the
    tests' tiny networks and mask ops run fastest (and steadiest on a loaded
    2-core machine) that way. Modules opt in with ``pytestmark =
    pytest.mark.usefixtures('one_torch_thread')``; a folder's conftest with
    an autouse fixture that requests it."""
    yield from _one_torch_thread()


@pytest.fixture(scope='module')
def one_torch_thread_per_module():
    """:func:`one_torch_thread` for a whole module, module-scoped fixtures
    included (they are built after it)."""
    yield from _one_torch_thread()
