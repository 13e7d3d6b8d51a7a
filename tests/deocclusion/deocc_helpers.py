"""Helpers of the inference-core tests: random PCNet-M models and scenes
(synthetic and real COCO masks from data/coco128)."""
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mmdeocc.models import PCNetM
from mmdeocc.structures import segmentation_to_mask

COCO128 = (
    Path(__file__).resolve().parents[2] / 'data' / 'coco128' / 'annotations' /
    'instances_train2017.json')


def random_pcnet(width=0.25, in_size=32, seed=0, **kwargs):
    """A PCNet-M with random weights whose outputs vary across pixels.

    The reference initialisation (xavier gain 0.02) gives an almost constant
    probability; Kaiming weights and random BN statistics give probability
    maps that cross the 0.1 / 0.2 thresholds in many places, so ordering
    and amodal results are not trivial.
    """
    torch.manual_seed(seed)
    model = PCNetM(width=width, in_size=in_size, **kwargs)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                fan_in = module.weight[0].numel()
                module.weight.copy_(
                    torch.randn(module.weight.shape, generator=gen) *
                    (2.0 / fan_in)**0.5)
                if module.bias is not None:
                    module.bias.copy_(
                        torch.randn(module.bias.shape, generator=gen) * 0.3)
            elif isinstance(module, nn.BatchNorm2d):
                module.running_mean.copy_(
                    torch.randn(module.running_mean.shape, generator=gen) *
                    0.1)
                module.running_var.copy_(
                    torch.rand(module.running_var.shape, generator=gen) + 0.5)
    return model.eval()


def synthetic_scene(rng, height, width, num, disjoint=True, gaps=False):
    """Random ellipses / rectangles; ``disjoint`` paints them in depth order
    (later = nearer) so modal masks do not overlap, like annotations."""
    yy, xx = np.mgrid[:height, :width]
    full = []
    for _ in range(num):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        ry = rng.uniform(2, height / 3)
        rx = rng.uniform(2, width / 3)
        if rng.random() < 0.5:
            shape = ((yy - cy) / ry)**2 + ((xx - cx) / rx)**2 <= 1
        else:
            shape = (np.abs(yy - cy) <= ry) & (np.abs(xx - cx) <= rx)
        full.append(shape)
    full = np.array(full, dtype=bool).reshape(num, height, width)
    if not disjoint:
        return full
    modal = full.copy()
    for k in range(num):
        for nearer in range(k + 1, num):
            modal[k] &= ~full[nearer]
        if gaps and rng.random() < 0.5:
            # Erode by one pixel to leave gaps as predicted masks do.
            m = modal[k]
            inner = m.copy()
            inner[1:] &= m[:-1]
            inner[:-1] &= m[1:]
            inner[:, 1:] &= m[:, :-1]
            inner[:, :-1] &= m[:, 1:]
            modal[k] = inner
    return modal


def load_coco_scenes(max_images=12, max_objects=8, scale=2):
    """Real modal masks of coco128 images (iscrowd=0), subsampled by
    ``scale`` (nearest) to keep the tests fast."""
    data = json.loads(COCO128.read_text())
    by_image = {}
    for ann in data['annotations']:
        if not ann.get('iscrowd', 0):
            by_image.setdefault(ann['image_id'], []).append(ann)
    images = {img['id']: img for img in data['images']}
    scenes = []
    for image_id in sorted(by_image):
        anns = by_image[image_id]
        if len(anns) < 3:
            continue
        img = images[image_id]
        h, w = img['height'], img['width']
        masks = np.stack([
            segmentation_to_mask(a['segmentation'], h, w,
                                 f'{COCO128}: annotation {a["id"]}')
            for a in anns[:max_objects]
        ]).astype(bool)[:, ::scale, ::scale]
        cats = [a['category_id'] for a in anns[:max_objects]]
        scenes.append((np.ascontiguousarray(masks), cats))
        if len(scenes) == max_images:
            break
    return scenes
