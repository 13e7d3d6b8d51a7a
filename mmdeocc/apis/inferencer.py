"""``DeOcclusionInferencer``: images in; detections, occlusion order,
amodal masks, pictures and JSON out, called like MMDetection's
``DetInferencer``.

The modal masks come from an MMDetection instance segmenter (wrapped in
:class:`~mmdeocc.engine.DeOcclusionDetector`, so the de-occlusion runs
inside the model's ``test_step`` exactly as under ``inference_detector``)
or from a COCO-format annotation file (``masks_from``; images are matched
by ``file_name``, no detector). Both paths end in the same
:class:`~mmdeocc.deocclusion.det_samples.DetSampleDeOccluder`.

``inferencer(inputs, batch_size=1, out_dir='', show=False,
pred_score_thr=..., return_datasamples=False, no_save_vis=False,
no_save_pred=True, return_vis=False, ...)`` takes ``DetInferencer``'s
arguments and returns its layout, ``dict(predictions=[...],
visualization=[...])``, where each prediction is mmdet's dict plus the
de-occlusion fields (:mod:`mmdeocc.apis.inference_outputs`) or, with
``return_datasamples=True``, the de-occluded ``DetDataSample``; it adds
``results`` (:class:`ImageResult` per image), ``skipped`` and
``summary``.

Outputs written under ``out_dir`` for every image ``<name>`` (the file
stem; ``array_000000`` ... for arrays):

- ``vis/<name>.png``: the image with visible masks coloured, invisible
  parts hatched in the object's colour and outlined, and ``id:class``
  labels (:class:`~mmdeocc.visualization.DeOcclusionVisualizer`'s
  picture); only the de-occluded instances (score >= ``score_thr``) are
  drawn, with their indices in the JSON as ids;
- ``order/<name>.png``: the occlusion graph, arrows from occluder to
  occludee (:func:`mmdeocc.visualization.draw_order_graph`);
- ``preds/<name>.json`` (unless ``no_save_pred``): the record of
  :func:`~mmdeocc.apis.inference_outputs.sample_to_record`;
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
import os.path as osp
import warnings
from dataclasses import dataclass, field
from typing import (Any, Dict, Iterator, List, Mapping, Optional, Sequence,
                    Tuple, Union)

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
from mmdeocc.visualization.deocclusion_visualizer import (
    PICTURE_MIN_SIDE, deocclusion_pictures, instance_class_names,
    shown_instances, side_by_side)
from .image_inputs import (IMAGE_EXTENSIONS, ImageSkipped, InputsType,
                           InputType, UnreadableImageError, list_images,
                           load_input, name_inputs, natural_key, read_image)
from .inference_outputs import (OUTPUT_SUBDIRS, SUMMARY_FILE, clean_out_dir,
                                sample_to_record, write_content_files,
                                write_json, write_png)

__all__ = [
    'DeOcclusionInferencer', 'ImageResult', 'wrap_detector_config',
    'IMAGE_EXTENSIONS', 'ImageSkipped', 'InputsType', 'InputType',
    'UnreadableImageError', 'list_images', 'load_input', 'name_inputs',
    'natural_key', 'read_image', 'OUTPUT_SUBDIRS', 'SUMMARY_FILE',
    'clean_out_dir', 'sample_to_record', 'write_content_files', 'write_json',
    'write_png', 'PICTURE_MIN_SIDE'
]


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
        record (dict): The JSON record
            (:func:`~mmdeocc.apis.inference_outputs.sample_to_record`).
        picture (np.ndarray | None): De-occlusion picture (BGR).
        graph (np.ndarray | None): Order-graph picture (BGR).
        files (dict): Written files by kind (``vis``, ``order``, ``pred``,
            ``content``).
    """
    name: str
    img_path: Optional[str]
    data_sample: Any
    record: Dict[str, Any]
    picture: Optional[np.ndarray] = None
    graph: Optional[np.ndarray] = None
    files: Dict[str, str] = field(default_factory=dict)


_AUTO = 'auto'


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
        model (str | Config, optional): ``DetInferencer``'s name of
            ``det_config``.
        weights (str, optional): ``DetInferencer``'s name of
            ``det_checkpoint``.
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
                 content: Optional[Mapping[str, Any]] = None,
                 model: Union[None, str, Config] = None,
                 weights: Optional[str] = None) -> None:
        det_config = _alias('det_config', det_config, 'model', model)
        det_checkpoint = _alias('det_checkpoint', det_checkpoint, 'weights',
                                weights)
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
                  score_thr: float = 0.0) -> Tuple[np.ndarray, np.ndarray]:
        """The de-occlusion picture and the order-graph picture.

        Only de-occluded instances are drawn (detections below the
        de-occlusion ``score_thr`` are left out of the pictures but kept in
        the JSON), and of those the ones scoring at least ``score_thr``;
        labels and graph nodes carry the instances' indices in the JSON
        record, and each instance keeps its colour.

        Args:
            image (np.ndarray): BGR image.
            sample (DetDataSample): De-occluded sample.
            score_thr (float): Least score drawn (``pred_score_thr``).

        Returns:
            tuple[np.ndarray, np.ndarray]: BGR pictures.
        """
        return deocclusion_pictures(
            image, sample, instance_class_names(sample, self.class_names),
            shown_instances(sample, score_thr))

    def __call__(self,
                 inputs: InputsType,
                 batch_size: int = 1,
                 return_vis: bool = False,
                 show: bool = False,
                 wait_time: float = 0,
                 no_save_vis: bool = False,
                 draw_pred: bool = True,
                 pred_score_thr: float = 0.0,
                 return_datasamples: bool = False,
                 print_result: bool = False,
                 no_save_pred: bool = True,
                 out_dir: Optional[str] = '',
                 show_progress: bool = True,
                 strict: bool = False) -> Dict[str, Any]:
        """De-occlude images (``DetInferencer``'s call signature).

        Args:
            inputs: Image path(s), folder(s) or BGR array(s).
            batch_size (int): Images per detector / de-occlusion call.
            return_vis (bool): Return the pictures (RGB, picture beside the
                order graph) in ``visualization`` and keep them in the
                results.
            show (bool): Show each picture in a window.
            wait_time (float): Seconds a shown picture stays.
            no_save_vis (bool): Do not write the pictures.
            draw_pred (bool): Draw the predictions (False: no pictures).
            pred_score_thr (float): Least score drawn in the pictures
                (de-occlusion itself uses the constructor's ``score_thr``).
            return_datasamples (bool): ``predictions`` are the de-occluded
                ``DetDataSample`` objects instead of dicts.
            print_result (bool): Print the predictions.
            no_save_pred (bool): Do not write ``preds/<name>.json``
                (mmdet's default: True).
            out_dir (str, optional): Output folder (module docstring);
                nothing is written when empty or None.
            show_progress (bool): tqdm progress bar over images.
            strict (bool): Raise :class:`ImageSkipped` on the first bad
                image instead of skipping it.

        Returns:
            dict: ``predictions`` and ``visualization`` (mmdet's layout),
            ``results`` (:class:`ImageResult` per image), ``skipped`` (list
            of ``dict(input=..., reason=...)``) and ``summary``.
        """
        if int(batch_size) < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        out_dir = out_dir or None
        items = name_inputs(inputs)
        if out_dir is not None:
            clean_out_dir(out_dir)
        options = dict(
            out_dir=out_dir, save_vis=out_dir is not None and not no_save_vis
            and draw_pred, save_pred=out_dir is not None and not no_save_pred,
            draw=draw_pred and (return_vis or show or (
                out_dir is not None and not no_save_vis)),
            return_vis=return_vis, show=show, wait_time=wait_time,
            score_thr=pred_score_thr)
        results: List[ImageResult] = []
        skipped: List[Dict[str, str]] = []
        bar = tqdm(total=len(items), disable=not show_progress,
                   desc='de-occlusion', unit='img')
        for chunk in _chunks(items, int(batch_size)):
            loaded = []
            for name, item in chunk:
                path = item if isinstance(item, str) else None
                try:
                    loaded.append((name, path, load_input(item)))
                except ImageSkipped as err:
                    self._skip(skipped, name, path, err, strict)
            for name, path, image, sample in self._predict_chunk(
                    loaded, skipped, strict):
                results.append(
                    self._finish(name, path, image, sample, **options))
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
            write_json(summary, osp.join(out_dir, SUMMARY_FILE))
        if skipped:
            print_log(
                f'{len(skipped)} of {len(items)} images skipped (see the '
                'warnings' + (f' and {osp.join(out_dir, SUMMARY_FILE)}'
                              if out_dir else '') + ')',
                logger='current', level=30)
        predictions = [r.data_sample if return_datasamples else r.record
                       for r in results]
        if print_result:
            print(dict(predictions=predictions))
        visualization = [
            side_by_side([r.picture, r.graph])[..., ::-1] for r in results
        ] if return_vis and draw_pred else []
        return dict(predictions=predictions, visualization=visualization,
                    results=results, skipped=skipped, summary=summary)

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

    def _finish(self, name: str, path: Optional[str], image: np.ndarray,
                sample: Any, out_dir: Optional[str], save_vis: bool,
                save_pred: bool, draw: bool, return_vis: bool, show: bool,
                wait_time: float, score_thr: float) -> ImageResult:
        """Record, pictures and files of one image."""
        record = sample_to_record(
            sample, self.class_names, self.label_to_category,
            file_name=osp.basename(path) if path else None)
        result = ImageResult(name, path, sample, record)
        if draw:
            result.picture, result.graph = self.visualize(
                image, sample, score_thr)
        if show:
            _show(side_by_side([result.picture, result.graph]), name,
                  wait_time)
        if save_vis:
            result.files['vis'] = osp.join(out_dir, 'vis', f'{name}.png')
            result.files['order'] = osp.join(out_dir, 'order', f'{name}.png')
            write_png(result.picture, result.files['vis'])
            write_png(result.graph, result.files['order'])
            if 'content_layers' in sample:
                result.files['content'] = write_content_files(
                    sample, record, out_dir, name)
        if save_pred:
            result.files['pred'] = osp.join(out_dir, 'preds', f'{name}.json')
            write_json(record, result.files['pred'])
        if not return_vis:
            result.picture = result.graph = None
        return result


def _alias(name: str, value: Any, alias: str, alias_value: Any) -> Any:
    """``value``, or its ``DetInferencer`` alias (not both)."""
    if alias_value is None:
        return value
    if value is not None:
        raise DetDeOcclusionConfigError(
            f'give {name} or {alias} (its DetInferencer name), not both')
    return alias_value


def _show(picture: np.ndarray, name: str, wait_time: float) -> None:
    """Show a BGR picture in a window (OpenCV)."""
    import cv2
    cv2.imshow(name, picture)
    cv2.waitKey(max(int(wait_time * 1000), 1) if wait_time else 0)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Consecutive slices of ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
