"""``DeOcclusionInferencer``: images in; detections, occlusion order,
amodal masks, pictures and JSON out.

The modal masks come from an MMDetection instance segmenter (wrapped in
:class:`~mmdeocc.engine.DeOcclusionDetector`, so the de-occlusion runs
inside the model's ``test_step`` exactly as under ``inference_detector``)
or from a COCO-format annotation file (``masks_from``; images are matched
by ``file_name``, no detector). Both paths end in the same
:class:`~mmdeocc.deocclusion.det_samples.DetSampleDeOccluder`.

Outputs written under ``out_dir`` for every image ``<name>`` (the file
stem; ``array_000000`` ... for arrays):

- ``vis/<name>.png``: the image with visible masks coloured, invisible
  parts hatched in the object's colour and outlined, and ``id:class``
  labels (:func:`mmdeocc.visualization.render_deocclusion`); only the
  de-occluded instances (score >= ``score_thr``) are drawn, with their
  indices in the JSON as ids;
- ``order/<name>.png``: the occlusion graph, arrows from occluder to
  occludee (:func:`mmdeocc.visualization.draw_order_graph`);
- ``preds/<name>.json``: :meth:`mmdeocc.structures.DeOcclusionResult.
  to_dict` (``height``, ``width``, ``order``, ``modal_masks`` and
  ``amodal_masks`` as COCO RLE, ``labels``, ``scores`` (detector only),
  ``layers``) plus ``file_name``, ``img_path``, ``category_ids``,
  ``category_names``, ``bboxes`` (modal, xywh), ``amodal_bboxes``,
  ``deoccluded``, ``occlusion_edges`` (``[occluder, occludee]`` pairs) and,
  with ``masks_from``, ``ann_ids``. ``DeOcclusionResult.from_dict`` reads
  it back;
- with ``pcnet_c`` (content completion,
  :mod:`mmdeocc.deocclusion.det_content`):
  ``content/<name>.png`` (input, inpainted background and every completed
  object: :func:`mmdeocc.visualization.render_content_layers`),
  ``content/<name>/background.png`` and ``content/<name>/object_<id>.png``
  (RGBA layer of instance ``<id>``, one per de-occluded instance); the JSON
  record gains ``content`` (those files relative to ``out_dir`` and the
  number of completed pixels per layer);
- ``summary.json``: settings, counts and the skipped images with reasons.

Bad inputs: an image that cannot be read or decoded, whose size differs
from its annotation, or (with ``masks_from``) that is not in the
annotation file is skipped with a logged warning and listed in the
summary (``strict=True`` raises instead, naming the file). An image with
no detection gives an empty result (valid JSON and pictures).
"""
import copy
import os
import os.path as osp
import re
import shutil
import warnings
from dataclasses import dataclass, field
from typing import (Any, Dict, Iterator, List, Mapping, Optional, Sequence,
                    Tuple, Union)

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import print_log
from tqdm import tqdm

from mmdeocc.datasets.image_index import (ImageNotAnnotatedError,
                                          ImageRecordIndex)
from mmdeocc.deocclusion.det_content import (
    DetContentError, build_det_sample_content_completer)
from mmdeocc.deocclusion.det_samples import (DetDeOcclusionConfigError,
                                             annotated_det_sample,
                                             build_det_sample_deoccluder)
from mmdeocc.structures import DeOcclusionResult, masks_to_bboxes
from mmdeocc.structures.masks import to_numpy
from mmdeocc.structures.order import order_to_edges
from mmdeocc.utils.io import atomic_write_bytes, atomic_write_json

#: File extensions listed when a folder is given.
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')

InputType = Union[str, np.ndarray]
InputsType = Union[InputType, Sequence[InputType]]


class UnreadableImageError(OSError):
    """An image file cannot be read or decoded."""


class ImageSkipped(ValueError):
    """An image cannot be processed (the reason names the file)."""


def natural_key(text: str) -> List[Any]:
    """Sort key that orders ``frame_2`` before ``frame_10``."""
    return [int(part) if part.isdigit() else part.lower()
            for part in re.split(r'(\d+)', text)]


def list_images(path: str) -> List[str]:
    """An image file, or the image files of a folder (natural order).

    Args:
        path (str): A file or a folder (not searched recursively; files
            with :data:`IMAGE_EXTENSIONS`, e.g. extracted video frames).

    Returns:
        list[str]: Paths.

    Raises:
        FileNotFoundError: ``path`` does not exist or a folder holds no
            image.
    """
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise FileNotFoundError(f'input {path!r} is neither a file nor a '
                                'folder')
    names = sorted((name for name in os.listdir(path)
                    if name.lower().endswith(IMAGE_EXTENSIONS)
                    and osp.isfile(osp.join(path, name))), key=natural_key)
    if not names:
        raise FileNotFoundError(
            f'folder {path!r} contains no image '
            f'({", ".join(IMAGE_EXTENSIONS)})')
    return [osp.join(path, name) for name in names]


def read_image(path: str) -> np.ndarray:
    """Read an image as BGR uint8 (like mmdet's ``LoadImageFromFile``).

    Args:
        path (str): Image file.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 BGR.

    Raises:
        UnreadableImageError: Missing, unreadable or undecodable file.
    """
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as err:
        raise UnreadableImageError(
            f'cannot read image {path}: {err.strerror or err}') from None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) \
        if data else None
    if image is None:
        raise UnreadableImageError(
            f'cannot decode image {path} (not an image, or a truncated / '
            'corrupt file)')
    return image


def wrap_detector_config(cfg: Config, **deocclusion: Any) -> Config:
    """A copy of a detector config whose model is a DeOcclusionDetector.

    Uses the wrapper's flat form (the detector's keys stay at the top of
    ``cfg.model``, its type moves to ``detector_type``), which
    ``mmdet.apis.init_detector`` accepts. A config that already wraps its
    detector gets the given settings updated.

    Args:
        cfg (Config): The detector config.
        **deocclusion: :class:`~mmdeocc.engine.DeOcclusionDetector`
            arguments (``pcnet_m``, ``deoccluder``, ``score_thr``, ...);
            None values are left out.

    Returns:
        Config: The new config.
    """
    cfg = copy.deepcopy(cfg)
    model = cfg.model.to_dict() if hasattr(cfg.model, 'to_dict') else dict(
        cfg.model)
    settings = {k: v for k, v in deocclusion.items() if v is not None}
    if model.get('type') != 'DeOcclusionDetector':
        model = dict(
            type='DeOcclusionDetector',
            detector_type=model.pop('type'),
            **model)
    model.update(settings)
    cfg.model = model
    return cfg


@dataclass
class ImageResult:
    """The outputs of one image.

    Attributes:
        name (str): Output name (file stem).
        img_path (str | None): Source file.
        data_sample (DetDataSample): De-occluded predictions.
        record (dict): The JSON record (module docstring).
        picture (np.ndarray | None): De-occlusion picture (BGR).
        graph (np.ndarray | None): Order-graph picture (BGR).
        files (dict): Written files by kind (``vis``, ``order``, ``pred``).
    """
    name: str
    img_path: Optional[str]
    data_sample: Any
    record: Dict[str, Any]
    picture: Optional[np.ndarray] = None
    graph: Optional[np.ndarray] = None
    files: Dict[str, str] = field(default_factory=dict)


def _to_numpy(value: Any) -> Optional[np.ndarray]:
    return None if value is None else to_numpy(value)


def sample_to_record(sample: Any,
                     class_names: Optional[Sequence[str]] = None,
                     label_to_category: Optional[Mapping[int, int]] = None,
                     file_name: Optional[str] = None) -> Dict[str, Any]:
    """The JSON record of a de-occluded data sample.

    Args:
        sample (DetDataSample): With ``pred_instances.masks``,
            ``amodal_masks`` and ``pred_occlusion_order``.
        class_names (Sequence[str], optional): Names by label.
        label_to_category (Mapping, optional): Label -> category id.
        file_name (str, optional): Image file name to record.

    Returns:
        dict: JSON-ready (module docstring).
    """
    pred = sample.pred_instances
    result = DeOcclusionResult.from_det_sample(sample)
    modal, amodal, labels = result.modal_masks, result.amodal_masks, \
        result.labels
    record: Dict[str, Any] = dict(
        file_name=file_name,
        img_path=sample.metainfo.get('img_path'),
        num_objects=result.num_objects)
    record.update(result.to_dict())
    names, cats = [], []
    for label in ([] if labels is None else labels.tolist()):
        names.append(class_names[int(label)] if class_names is not None
                     and 0 <= int(label) < len(class_names) else None)
        cats.append(label_to_category.get(int(label))
                    if label_to_category else None)
    record['category_ids'] = cats if labels is not None else None
    record['category_names'] = names if labels is not None else None
    record['bboxes'] = masks_to_bboxes(torch.from_numpy(modal)).tolist()
    record['amodal_bboxes'] = masks_to_bboxes(
        torch.from_numpy(amodal)).tolist()
    flags = _to_numpy(pred.get('deoccluded', None))
    record['deoccluded'] = None if flags is None else flags.astype(
        bool).tolist()
    record['occlusion_edges'] = [
        list(edge) for edge in order_to_edges(result.order)
    ]
    ann_ids = sample.metainfo.get('ann_ids')
    if ann_ids is not None:
        record['ann_ids'] = [int(a) for a in ann_ids]
    return record


def write_png(image: np.ndarray, path: str) -> None:
    """Write a BGR image as PNG (atomically)."""
    ok, buf = cv2.imencode('.png', image)
    if not ok:
        raise OSError(f'cannot encode PNG for {path}')
    atomic_write_bytes(buf.tobytes(), path)


def write_json(obj: Any, path: str) -> None:
    """Write JSON (atomically)."""
    atomic_write_json(obj, path, compact=False)


_AUTO = 'auto'
#: Pictures of smaller images are drawn enlarged (integer factor, nearest
#: neighbour) to at least this shorter side, so their labels stay readable.
PICTURE_MIN_SIDE = 480


class DeOcclusionInferencer:
    """De-occlude images with a detector or with masks from annotations.

    Args:
        det_config (str | Config, optional): MMDetection instance
            segmentation config (detector mode).
        det_checkpoint (str, optional): Its checkpoint.
        pcnet_m (str, optional): PCNet-M checkpoint (weights-only loading).
        masks_from (str, optional): COCO-format annotation file whose modal
            masks are de-occluded instead of running a detector (images
            matched by ``file_name``, else by base name).
        deoccluder (dict, optional): :class:`~mmdeocc.deocclusion.
            DeOccluder` options.
        score_thr (float): Detections below it are not de-occluded (detector
            mode).
        max_instances (int | None | 'auto'): De-occlude at most this many
            instances per image; ``'auto'`` = 100 for detections, no limit
            for given masks.
        gap_tolerance (int | float, optional): Touch tolerance; default
            :data:`~mmdeocc.deocclusion.det_samples.
            PREDICTED_MASKS_GAP_TOLERANCE` for detections and 0 (the
            reference test) for given masks.
        label_to_category (sequence | dict, optional): Detector label ->
            dataset category id (PCNet-M with ``use_category``); with
            ``masks_from`` the file's category ids are used.
        device (str): Device (``'cpu'``, ``'cuda:0'``).
        fast (bool): The core's fast inference mode.
        cfg_options (dict, optional): Overrides of the detector config.
        pcnet_c (str, optional): PCNet-C checkpoint: also complete the
            content of the de-occluded objects and the background.
        content (dict, optional): :class:`~mmdeocc.deocclusion.
            ContentCompleter` options (``input_size``, ``hole_dilation``,
            ``keep_visible``, ...); needs ``pcnet_c``.
    """

    def __init__(self,
                 det_config: Union[None, str, Config] = None,
                 det_checkpoint: Optional[str] = None,
                 pcnet_m: Optional[str] = None,
                 masks_from: Optional[str] = None,
                 deoccluder: Optional[Mapping[str, Any]] = None,
                 score_thr: float = 0.3,
                 max_instances: Union[None, int, str] = _AUTO,
                 gap_tolerance: Optional[Union[int, float]] = None,
                 label_to_category: Union[None, Sequence[int],
                                          Mapping[int, int]] = None,
                 device: str = 'cpu',
                 fast: bool = False,
                 cfg_options: Optional[Mapping[str, Any]] = None,
                 pcnet_c: Optional[str] = None,
                 content: Optional[Mapping[str, Any]] = None) -> None:
        if (det_config is None) == (masks_from is None):
            raise DetDeOcclusionConfigError(
                'DeOcclusionInferencer needs exactly one mask source: a '
                'detector (det_config) or an annotation file (masks_from)')
        deoccluder = dict(deoccluder or {})
        if fast:
            deoccluder['fast'] = True
        self.device = device
        self.score_thr = score_thr
        self.settings = dict(
            pcnet_m=pcnet_m, score_thr=score_thr, deoccluder=deoccluder,
            device=str(device))
        if det_config is not None:
            self.mode = 'detector'
            self.max_instances = 100 if max_instances == _AUTO else \
                max_instances
            self._init_detector(det_config, det_checkpoint, pcnet_m,
                                deoccluder, gap_tolerance, label_to_category,
                                cfg_options)
        else:
            self.mode = 'annotations'
            self.max_instances = None if max_instances == _AUTO else \
                max_instances
            self._init_annotations(masks_from, pcnet_m, deoccluder,
                                   gap_tolerance)
        self.settings.update(
            mode=self.mode,
            max_instances=self.max_instances,
            gap_tolerance=self.sample_deoccluder.deoccluder.gap_tolerance,
            det_config=None if det_config is None else str(
                getattr(det_config, 'filename', det_config)),
            det_checkpoint=det_checkpoint,
            masks_from=masks_from,
            pcnet_c=pcnet_c,
            content=dict(content or {}))
        if content is not None and pcnet_c is None:
            raise DetContentError(
                'content options need a PCNet-C checkpoint (pcnet_c)')
        self.content_completer = None if pcnet_c is None else \
            build_det_sample_content_completer(
                pcnet_c, content, self.label_to_category, device)

    # ------------------------------------------------------------------
    # Set-up
    # ------------------------------------------------------------------
    def _init_detector(self, det_config, det_checkpoint, pcnet_m, deoccluder,
                       gap_tolerance, label_to_category, cfg_options) -> None:
        """Build the wrapped detector and its test pipeline."""
        from mmcv.transforms import Compose
        from mmdet.apis import init_detector
        from mmdet.utils import get_test_pipeline_cfg
        from mmengine.registry import init_default_scope

        if isinstance(det_config, str):
            if not osp.isfile(det_config):
                raise FileNotFoundError(
                    f'detector config {det_config} does not exist')
            cfg = Config.fromfile(det_config)
        else:
            cfg = copy.deepcopy(det_config)
        if cfg_options:
            cfg.merge_from_dict(dict(cfg_options))
        if det_checkpoint is not None and not osp.isfile(det_checkpoint):
            raise FileNotFoundError(
                f'detector checkpoint {det_checkpoint} does not exist')
        cfg = wrap_detector_config(
            cfg,
            pcnet_m=pcnet_m,
            deoccluder=deoccluder or None,
            score_thr=self.score_thr,
            max_instances=self.max_instances,
            gap_tolerance=gap_tolerance,
            label_to_category=label_to_category)
        init_default_scope(cfg.get('default_scope', 'mmdet'))
        if det_checkpoint is None:
            warnings.warn('no detector checkpoint: the detector has random '
                          'weights')
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', UserWarning)
            self.model = init_detector(
                cfg, det_checkpoint, palette='random', device=self.device)
        if det_checkpoint is not None:
            self.model.check_detector_checkpoint(det_checkpoint)
        self.class_names = list(
            (self.model.dataset_meta or {}).get('classes', []))
        self.sample_deoccluder = self.model.sample_deoccluder()
        self.label_to_category = \
            self.sample_deoccluder.label_to_category
        pipeline = copy.deepcopy(get_test_pipeline_cfg(cfg))
        pipeline = [
            t for t in pipeline
            if t['type'] not in ('LoadAnnotations', 'mmdet.LoadAnnotations')
        ]
        if not pipeline or 'LoadImage' not in str(pipeline[0]['type']):
            raise DetDeOcclusionConfigError(
                'the detector config test pipeline must start with an image '
                f'loading transform, got {pipeline[:1]}')
        pipeline[0] = dict(type='mmdet.LoadImageFromNDArray')
        self.pipeline = Compose(pipeline)

    def _init_annotations(self, masks_from, pcnet_m, deoccluder,
                          gap_tolerance) -> None:
        """Read the annotation file and build the de-occluder."""
        from mmdeocc.datasets import load_coco_modal
        records, categories = load_coco_modal(masks_from)
        cat_ids = sorted(int(c['id']) for c in categories)
        names = {int(c['id']): str(c.get('name', c['id']))
                 for c in categories}
        self.class_names = [names[c] for c in cat_ids]
        self.label_to_category = {k: c for k, c in enumerate(cat_ids)}
        self.record_index = ImageRecordIndex(records, masks_from)
        self.masks_from = masks_from
        self.sample_deoccluder = build_det_sample_deoccluder(
            pcnet_m=pcnet_m,
            deoccluder=deoccluder,
            score_thr=0.0,
            max_instances=self.max_instances,
            gap_tolerance=gap_tolerance,
            label_to_category=cat_ids,
            predicted_masks=False,
            device=self.device)

    # ------------------------------------------------------------------
    # Inputs
    # ------------------------------------------------------------------
    @staticmethod
    def inputs_to_list(inputs: InputsType) -> List[Tuple[str, InputType]]:
        """Expand inputs to ``(name, path or array)`` items.

        Args:
            inputs: An image path, a folder, an ``(H, W, 3)`` uint8 BGR
                array, or a list of paths / arrays.

        Returns:
            list[tuple[str, str | np.ndarray]]: Unique output names (file
            stems; ``array_<k>`` for arrays) and the inputs.
        """
        if isinstance(inputs, (str, os.PathLike, np.ndarray)):
            inputs = [inputs]
        items: List[Tuple[str, InputType]] = []
        for k, item in enumerate(inputs):
            if isinstance(item, np.ndarray):
                items.append((f'array_{k:06d}', item))
            else:
                items.extend((None, path) for path in list_images(
                    os.fspath(item)))
        stems: Dict[str, int] = {}
        for _, item in items:
            if isinstance(item, str):
                stem = osp.splitext(osp.basename(item))[0]
                stems[stem] = stems.get(stem, 0) + 1
        named, used = [], set()
        for name, item in items:
            if name is None:
                stem, ext = osp.splitext(osp.basename(item))
                name = stem if stems[stem] == 1 else f'{stem}_{ext[1:]}'
            base, n = name, 1
            while name in used:
                name, n = f'{base}_{n}', n + 1
            used.add(name)
            named.append((name, item))
        return named

    def _load(self, item: InputType) -> np.ndarray:
        """The BGR image of an input (raises :class:`ImageSkipped`)."""
        if isinstance(item, np.ndarray):
            if item.ndim != 3 or item.shape[2] != 3 or item.dtype != np.uint8:
                raise ImageSkipped(
                    f'input array must be (H, W, 3) uint8 BGR, got shape '
                    f'{item.shape} {item.dtype}')
            return item
        try:
            return read_image(item)
        except UnreadableImageError as err:
            raise ImageSkipped(str(err)) from None

    def _record_for(self, path: Optional[str]) -> Dict[str, Any]:
        """The annotation record of an image path (masks_from mode)."""
        if path is None:
            raise ImageSkipped(
                'arrays have no file name to look up in the annotations; '
                'give image files with masks_from')
        try:
            return self.record_index.find(path)
        except ImageNotAnnotatedError as err:
            raise ImageSkipped(str(err)) from None

    # ------------------------------------------------------------------
    # Prediction
    # ------------------------------------------------------------------
    def _samples_from_annotations(self, images, paths) -> List[Any]:
        """Data samples holding the annotated modal masks."""
        samples = []
        for image, path in zip(images, paths):
            record = self._record_for(path)
            height, width = image.shape[:2]
            if (record['height'], record['width']) != (height, width):
                raise ImageSkipped(
                    f'image {path} is {width}x{height} but '
                    f'{self.masks_from} says {record["width"]}x'
                    f'{record["height"]}')
            samples.append(annotated_det_sample(record, path))
        return self.sample_deoccluder(samples)

    def _samples_from_detector(self, images, paths) -> List[Any]:
        """Run the wrapped detector (de-occlusion included)."""
        from mmengine.dataset import pseudo_collate
        data = [self.pipeline(dict(img=image, img_id=k))
                for k, image in enumerate(images)]
        with torch.no_grad():
            samples = self.model.test_step(pseudo_collate(data))
        for sample, path in zip(samples, paths):
            sample.set_metainfo(dict(img_path=path))
        return samples

    def predict(self, images: Sequence[np.ndarray],
                paths: Sequence[Optional[str]]) -> List[Any]:
        """De-occluded data samples of a batch of loaded images.

        Args:
            images (Sequence[np.ndarray]): ``(H, W, 3)`` uint8 BGR images.
            paths (Sequence[str | None]): Their files (None for arrays).

        Returns:
            list[DetDataSample]: With ``pred_instances.amodal_masks`` and
            ``pred_occlusion_order`` (and ``content_layers`` with
            ``pcnet_c``).
        """
        if self.mode == 'detector':
            samples = self._samples_from_detector(images, paths)
        else:
            samples = self._samples_from_annotations(images, paths)
        if self.content_completer is not None:
            try:
                self.content_completer(
                    samples,
                    [np.ascontiguousarray(im[..., ::-1]) for im in images])
            except DetContentError as err:
                raise ImageSkipped(str(err)) from None
        return samples

    def visualize(self, image: np.ndarray, sample: Any,
                  record: Dict[str, Any]) -> Tuple[np.ndarray, np.ndarray]:
        """The de-occlusion picture and the order-graph picture.

        Only de-occluded instances are drawn (detections below
        ``score_thr`` are left out of the pictures but kept in the JSON);
        labels and graph nodes carry the instances' indices in the JSON
        record, and each instance keeps its colour.

        Args:
            image (np.ndarray): BGR image.
            sample (DetDataSample): De-occluded sample.
            record (dict): Its JSON record (names).

        Returns:
            tuple[np.ndarray, np.ndarray]: BGR pictures.
        """
        from mmdeocc.visualization import (draw_order_graph, object_colours,
                                           render_deocclusion)
        result = DeOcclusionResult.from_det_sample(sample)
        modal, amodal, order = (result.modal_masks, result.amodal_masks,
                                result.order)
        flags = record.get('deoccluded')
        keep = (np.flatnonzero(flags) if flags is not None else
                np.arange(len(modal)))
        names = record.get('category_names')
        names = [names[k] for k in keep] if names else None
        colours = object_colours(len(modal))[keep]
        order = order[np.ix_(keep, keep)]
        picture = render_deocclusion(
            image, modal[keep], amodal[keep], order, names, colours,
            ids=keep.tolist(), min_side=PICTURE_MIN_SIDE)
        graph = draw_order_graph(order, names, colours, ids=keep.tolist())
        return picture, graph

    def __call__(self,
                 inputs: InputsType,
                 batch_size: int = 1,
                 out_dir: Optional[str] = None,
                 no_save_vis: bool = False,
                 no_save_pred: bool = False,
                 return_vis: bool = False,
                 show_progress: bool = True,
                 strict: bool = False) -> Dict[str, Any]:
        """De-occlude images.

        Args:
            inputs: Image path(s), folder(s) or BGR array(s).
            batch_size (int): Images per detector / de-occlusion call.
            out_dir (str, optional): Output folder (module docstring);
                nothing is written without it.
            no_save_vis (bool): Do not write the pictures.
            no_save_pred (bool): Do not write the JSON records.
            return_vis (bool): Keep the pictures in the results.
            show_progress (bool): tqdm progress bar over images.
            strict (bool): Raise :class:`ImageSkipped` on the first bad
                image instead of skipping it.

        Returns:
            dict: ``results`` (list of :class:`ImageResult`), ``skipped``
            (list of ``dict(input=..., reason=...)``) and ``summary``.
        """
        if int(batch_size) < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        items = self.inputs_to_list(inputs)
        if out_dir is not None:
            clean_out_dir(out_dir)
        results: List[ImageResult] = []
        skipped: List[Dict[str, str]] = []
        bar = tqdm(total=len(items), disable=not show_progress,
                   desc='de-occlusion', unit='img')
        for chunk in _chunks(items, int(batch_size)):
            loaded = []
            for name, item in chunk:
                path = item if isinstance(item, str) else None
                try:
                    loaded.append((name, path, self._load(item)))
                except ImageSkipped as err:
                    self._skip(skipped, name, path, err, strict)
            for name, path, image, sample in self._predict_chunk(
                    loaded, skipped, strict):
                result = self._finish(name, path, image, sample, out_dir,
                                      no_save_vis, no_save_pred, return_vis)
                results.append(result)
            bar.update(len(chunk))
        bar.close()
        summary = dict(
            settings=self.settings,
            num_inputs=len(items),
            num_processed=len(results),
            num_skipped=len(skipped),
            num_objects=int(sum(r.record['num_objects'] for r in results)),
            skipped=skipped)
        if out_dir is not None:
            write_json(summary, osp.join(out_dir, 'summary.json'))
        if skipped:
            print_log(
                f'{len(skipped)} of {len(items)} images skipped (see the '
                'warnings' + (f' and {osp.join(out_dir, "summary.json")}'
                              if out_dir else '') + ')',
                logger='current', level=30)
        return dict(results=results, skipped=skipped, summary=summary)

    def _predict_chunk(self, loaded, skipped, strict) -> Iterator[tuple]:
        """Predict a chunk; on a per-image error, retry image by image so
        that one bad image only skips itself."""
        if not loaded:
            return
        try:
            samples = self.predict([x[2] for x in loaded],
                                   [x[1] for x in loaded])
        except ImageSkipped as err:
            if len(loaded) == 1:
                self._skip(skipped, loaded[0][0], loaded[0][1], err, strict)
                return
            if strict:
                raise
            for one in loaded:
                yield from self._predict_chunk([one], skipped, strict)
            return
        for (name, path, image), sample in zip(loaded, samples):
            yield name, path, image, sample

    @staticmethod
    def _skip(skipped, name, path, err, strict) -> None:
        """Log (or raise, when strict) a skipped image."""
        if strict:
            raise ImageSkipped(str(err)) from None
        skipped.append(dict(input=path or name, reason=str(err)))
        print_log(f'skipping {path or name}: {err}', logger='current',
                  level=30)

    def _finish(self, name, path, image, sample, out_dir, no_save_vis,
                no_save_pred, return_vis) -> ImageResult:
        """Record, pictures and files of one image."""
        record = sample_to_record(
            sample, self.class_names, self.label_to_category,
            file_name=osp.basename(path) if path else None)
        if 'content_layers' in sample:
            layers = sample.content_layers
            record['content'] = dict(
                instance_ids=[int(i) for i in layers.instance_indices],
                fill_pixels=[int(n) for n in layers.fill_masks.sum((1, 2))],
                background_pixels=int(layers.background_hole.sum()))
        result = ImageResult(name, path, sample, record)
        want_vis = return_vis or (out_dir is not None and not no_save_vis)
        if want_vis:
            result.picture, result.graph = self.visualize(
                image, sample, record)
        if out_dir is not None:
            if not no_save_vis:
                result.files['vis'] = osp.join(out_dir, 'vis', f'{name}.png')
                result.files['order'] = osp.join(out_dir, 'order',
                                                 f'{name}.png')
                write_png(result.picture, result.files['vis'])
                write_png(result.graph, result.files['order'])
            if not no_save_vis and 'content_layers' in sample:
                self._write_content(sample, record, result, out_dir, name)
            if not no_save_pred:
                result.files['pred'] = osp.join(out_dir, 'preds',
                                                f'{name}.json')
                write_json(record, result.files['pred'])
        if not return_vis:
            result.picture = result.graph = None
        return result

    def _write_content(self, sample, record, result, out_dir, name) -> None:
        """Write the content pictures and layers of one image; list them in
        ``record['content']`` (paths relative to ``out_dir``)."""
        from mmdeocc.visualization import object_colours, render_content_layers
        layers = sample.content_layers
        ids = [int(i) for i in layers.instance_indices]
        names = record.get('category_names')
        num = len(record.get('deoccluded') or ids)
        picture = render_content_layers(
            layers,
            names=[names[i] for i in ids] if names else None,
            colours=object_colours(max(num, 1))[ids],
            ids=ids)
        files = dict(picture=osp.join('content', f'{name}.png'),
                     background=osp.join('content', name, 'background.png'),
                     layers={})
        write_png(picture, osp.join(out_dir, files['picture']))
        write_png(np.ascontiguousarray(layers.background[..., ::-1]),
                  osp.join(out_dir, files['background']))
        for k, obj in enumerate(ids):
            rel = osp.join('content', name, f'object_{obj}.png')
            rgba = layers.rgba(k)
            write_png(np.ascontiguousarray(rgba[..., [2, 1, 0, 3]]),
                      osp.join(out_dir, rel))
            files['layers'][str(obj)] = rel
        record['content'].update(files)
        result.files['content'] = osp.join(out_dir, files['picture'])


#: What the inferencer writes in an output folder.
OUTPUT_SUBDIRS = ('vis', 'order', 'preds', 'content')
SUMMARY_FILE = 'summary.json'


def clean_out_dir(out_dir: str) -> int:
    """Remove the outputs of an earlier run from an output folder.

    A reused folder would otherwise mix stale per-image files with the new
    run's summary. Only what the inferencer writes is removed (the
    :data:`OUTPUT_SUBDIRS` and the summary), and only when the folder's
    ``summary.json`` shows an earlier run wrote it.

    Args:
        out_dir (str): The output folder.

    Returns:
        int: Number of files removed.

    Raises:
        FileExistsError: The folder has output sub-folders with files but no
            summary (not written by this tool, or a killed run): give an
            empty folder or remove them.
    """
    present = [d for d in OUTPUT_SUBDIRS
               if osp.isdir(osp.join(out_dir, d))
               and os.listdir(osp.join(out_dir, d))]
    summary = osp.join(out_dir, SUMMARY_FILE)
    if not osp.isfile(summary):
        if present:
            raise FileExistsError(
                f'output folder {out_dir} already has {", ".join(present)} '
                f'but no {SUMMARY_FILE} of an earlier run: give an empty '
                '--out-dir or remove those folders')
        return 0
    removed = 0
    for sub in present:
        for root, _, files in os.walk(osp.join(out_dir, sub)):
            removed += len(files)
        shutil.rmtree(osp.join(out_dir, sub))
    os.remove(summary)
    if removed:
        print_log(f'{out_dir}: removed {removed} files of the earlier run',
                  logger='current')
    return removed


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Consecutive slices of ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
