"""``DeOcclusionDetector``: any MMDetection segmenter + scene de-occlusion."""
import copy
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmdet.models.detectors import BaseDetector
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmengine.config import ConfigDict
from torch import Tensor, nn

from mmdeocc.deocclusion.builder import build_deoccluder
from mmdeocc.deocclusion.det_content import (
    DetSampleContentCompleter, build_det_sample_content_completer,
    content_options, images_from_batch)
from mmdeocc.deocclusion.det_samples import (DetDeOcclusionConfigError,
                                             DetSampleDeOccluder,
                                             check_detector_predicts_masks,
                                             deoccluder_options)
from mmdeocc.utils.checkpoint import (checkpoint_state_dict, safe_torch_load,
                                      state_dict_coverage)

__all__ = ['DeOcclusionDetector', 'DetectorCheckpointError']

_DETECTOR = 'detector.'
_PCNET_M = 'pcnet_m.'
_PCNET_C = 'pcnet_c.'


class DetectorCheckpointError(DetDeOcclusionConfigError):
    """A detector checkpoint does not fit the detector of the config."""


@MODELS.register_module()
class DeOcclusionDetector(BaseDetector):
    """Wrap an instance segmenter so that its predictions are de-occluded.

    ``predict`` (hence ``test_step`` / ``val_step``,
    :func:`mmdet.apis.inference_detector` and
    :class:`mmdet.apis.DetInferencer`) returns the detector's data samples
    with ``pred_instances.amodal_masks``, ``pred_instances.deoccluded`` and
    ``pred_occlusion_order`` added by the same
    :class:`~mmdeocc.deocclusion.det_samples.DetSampleDeOccluder` the
    :class:`~mmdeocc.engine.DeOcclusionHook` uses, and with ``pcnet_c`` the
    ``content_layers`` of :class:`~mmdeocc.deocclusion.det_content.
    DetSampleContentCompleter` (original image read from ``img_path``, or
    rebuilt from the preprocessed batch for array inputs). ``loss`` and
    ``_forward`` are the detector's (training the wrapper trains the
    detector; PCNet-M is frozen and stays in eval mode).

    Two config forms. *Flat* (recommended; ``mmdet.apis.init_detector``
    reads ``cfg.model.backbone`` and needs it): keep the detector's keys and
    change the type, moving the detector's type to ``detector_type``::

        _base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
        model = dict(type='DeOcclusionDetector', detector_type='MaskRCNN',
                     pcnet_m='checkpoints/pcnet_m_cocoa.pth',
                     deoccluder=dict(amodal_th=0.2), score_thr=0.3)

    *Nested*: ``detector=dict(type='MaskRCNN', ...)`` (or a built module).

    Weights: the wrapper's state dict is ``detector.*`` + ``pcnet_m.*`` (+
    ``pcnet_c.*``). Loading a plain detector checkpoint (keys without the
    ``detector.`` prefix, as ``init_detector(cfg, 'mask_rcnn.pth')`` does)
    is supported: the keys are moved under ``detector.`` and the PCNet-M /
    PCNet-C weights loaded from ``pcnet_m`` / ``pcnet_c`` are kept.

    Args:
        detector (dict | nn.Module, optional): The detector (nested form).
        detector_type (str, optional): The detector's type (flat form).
        pcnet_m (str, optional): PCNet-M checkpoint (weights-only loading);
            None only for network-free de-occlusion methods.
        deoccluder (dict, optional): :class:`~mmdeocc.deocclusion.DeOccluder`
            options other than ``model`` / ``device`` (the wrapper's device
            is used).
        score_thr (float): Detections below it are not de-occluded.
        max_instances (int, optional): De-occlude at most this many
            detections per image.
        gap_tolerance (int | float, optional): Touch tolerance; default
            :data:`~mmdeocc.deocclusion.det_samples.
            PREDICTED_MASKS_GAP_TOLERANCE`.
        label_to_category (sequence | dict, optional): mmdet label ->
            dataset category id (PCNet-M models with ``use_category``).
        pcnet_m_cfg_options (dict, optional): Overrides of the checkpoint's
            model config.
        pcnet_c (str, optional): PCNet-C checkpoint: also complete the
            content of the de-occluded instances and the background.
        content (dict, optional): :class:`~mmdeocc.deocclusion.
            ContentCompleter` options (needs ``pcnet_c``).
        init_cfg (dict, optional): The detector's ``init_cfg`` (flat form).
        **detector_kwargs: The detector's other arguments (flat form):
            ``backbone``, ``neck``, ``rpn_head``, ``roi_head``,
            ``train_cfg``, ``test_cfg``, ``data_preprocessor``, ...
    """

    def __init__(self,
                 detector: Union[None, Mapping[str, Any], nn.Module] = None,
                 detector_type: Optional[str] = None,
                 pcnet_m: Optional[str] = None,
                 deoccluder: Optional[Mapping[str, Any]] = None,
                 score_thr: float = 0.3,
                 max_instances: Optional[int] = 100,
                 gap_tolerance: Optional[Union[int, float]] = None,
                 label_to_category: Union[None, Sequence[int],
                                          Mapping[int, int]] = None,
                 pcnet_m_cfg_options: Optional[Mapping[str, Any]] = None,
                 pcnet_c: Optional[str] = None,
                 content: Optional[Mapping[str, Any]] = None,
                 init_cfg: Optional[dict] = None,
                 **detector_kwargs: Any) -> None:
        detector = self._build_detector(detector, detector_type, init_cfg,
                                        detector_kwargs)
        check_detector_predicts_masks(detector, 'DeOcclusionDetector')
        options = deoccluder_options(deoccluder, gap_tolerance, True)
        if 'device' in options:
            raise DetDeOcclusionConfigError(
                'DeOcclusionDetector: deoccluder.device is not accepted; '
                'PCNet-M follows the wrapper (model.to(device))')
        super().__init__(data_preprocessor=detector.data_preprocessor)
        self.detector = detector
        if pcnet_m is not None:
            from mmdeocc.models import load_pcnet_m
            self.pcnet_m = load_pcnet_m(
                pcnet_m, cfg_options=pcnet_m_cfg_options)
            for param in self.pcnet_m.parameters():
                param.requires_grad_(False)
        else:
            self.pcnet_m = None
        self.pcnet_m_path = pcnet_m
        if content is not None and pcnet_c is None:
            raise DetDeOcclusionConfigError(
                'DeOcclusionDetector: content options need a PCNet-C '
                'checkpoint (pcnet_c=<path>)')
        self.content_options = content_options(content)
        if pcnet_c is not None:
            from mmdeocc.deocclusion import load_pcnet_c
            self.pcnet_c = load_pcnet_c(pcnet_c)
            for param in self.pcnet_c.parameters():
                param.requires_grad_(False)
        else:
            self.pcnet_c = None
        self.pcnet_c_path = pcnet_c
        self.deoccluder_options = options
        self.score_thr = score_thr
        self.max_instances = max_instances
        self.label_to_category = label_to_category
        self._sample_deoccluder: Optional[DetSampleDeOccluder] = None
        self._content_completer: Optional[DetSampleContentCompleter] = None
        self._deoccluder_device: Optional[torch.device] = None
        # Fail on bad options at build time.
        self.sample_deoccluder()
        self.register_load_state_dict_pre_hook(_detector_checkpoint_pre_hook)

    @staticmethod
    def _build_detector(detector, detector_type, init_cfg,
                        detector_kwargs) -> nn.Module:
        """Build the wrapped detector from either config form."""
        if detector is not None:
            if detector_type is not None or detector_kwargs:
                raise DetDeOcclusionConfigError(
                    'DeOcclusionDetector: give the detector either nested '
                    '(detector=dict(...)) or flat (detector_type=... plus '
                    'its keys), not both; extra keys: '
                    f'{sorted(detector_kwargs)}')
            if isinstance(detector, nn.Module):
                return detector
            cfg = copy.deepcopy(dict(detector))
        else:
            if detector_type is None:
                raise DetDeOcclusionConfigError(
                    'DeOcclusionDetector needs the detector: '
                    "detector=dict(type='MaskRCNN', ...) or "
                    "detector_type='MaskRCNN' with the detector's keys")
            cfg = dict(type=detector_type, **copy.deepcopy(detector_kwargs))
            if init_cfg is not None:
                cfg['init_cfg'] = init_cfg
        if cfg.get('type') in ('DeOcclusionDetector', DeOcclusionDetector):
            raise DetDeOcclusionConfigError(
                'DeOcclusionDetector cannot wrap another DeOcclusionDetector')
        # Nested plain dicts become ConfigDicts (mmdet reads train_cfg.rpn).
        return MODELS.build(ConfigDict(cfg))

    # ------------------------------------------------------------------
    # De-occlusion
    # ------------------------------------------------------------------
    def check_detector_checkpoint(self, checkpoint: str,
                                  min_fraction: float = 0.5) -> float:
        """Refuse a checkpoint that leaves the detector mostly unloaded.

        mmengine only warns about missing keys, so a wrong file (a PCNet-M
        checkpoint, another architecture) would silently leave a randomly
        initialised detector. Reads the file weights-only.

        Args:
            checkpoint (str): The detector checkpoint (a plain detector's or
                this wrapper's).
            min_fraction (float): Least fraction of the detector's weights
                the file must provide (same name and shape).

        Returns:
            float: The fraction provided.

        Raises:
            DetectorCheckpointError: Fewer than ``min_fraction`` of the
                detector's weights are in the file (the message names it
                and says what it looks like).
        """
        state = checkpoint_state_dict(safe_torch_load(checkpoint))
        if any(k.startswith(_DETECTOR) for k in state):
            state = {k[len(_DETECTOR):]: v for k, v in state.items()
                     if k.startswith(_DETECTOR)}
        matched, total = state_dict_coverage(self.detector, state)
        fraction = matched / max(total, 1)
        if fraction < min_fraction:
            sample = ', '.join(sorted(state)[:3]) or 'no tensors'
            raise DetectorCheckpointError(
                f'detector checkpoint {checkpoint} provides {matched} of the '
                f'{total} weights of the {type(self.detector).__name__} '
                f'in the config (keys start with: {sample}); it is not a '
                'checkpoint of this detector (a PCNet-M/-C file, or another '
                'architecture?). Give the detector\'s own checkpoint.')
        return fraction

    def _device(self) -> torch.device:
        """Device of the wrapper (the detector's parameters)."""
        for param in self.detector.parameters():
            return param.device
        return torch.device('cpu')

    def sample_deoccluder(self) -> DetSampleDeOccluder:
        """The :class:`DetSampleDeOccluder`, rebuilt when the device
        changes (PCNet-M moves with the wrapper)."""
        device = self._device()
        if self._sample_deoccluder is None or \
                self._deoccluder_device != device:
            core = build_deoccluder(
                dict(self.deoccluder_options, model=self.pcnet_m))
            self._sample_deoccluder = DetSampleDeOccluder(
                core,
                score_thr=self.score_thr,
                max_instances=self.max_instances,
                label_to_category=self.label_to_category)
            self._content_completer = None if self.pcnet_c is None else \
                build_det_sample_content_completer(
                    self.pcnet_c, self.content_options,
                    self.label_to_category, device)
            self._deoccluder_device = device
        return self._sample_deoccluder

    def content_completer(self) -> Optional[DetSampleContentCompleter]:
        """The :class:`DetSampleContentCompleter` (None without
        ``pcnet_c``), on the wrapper's device."""
        self.sample_deoccluder()
        return self._content_completer

    def init_weights(self) -> None:
        """Initialise the detector only (PCNet-M / PCNet-C keep their loaded
        weights)."""
        self.detector.init_weights()

    def train(self, mode: bool = True) -> 'DeOcclusionDetector':
        """Set the detector's mode; PCNet-M always stays in eval mode."""
        super().train(mode)
        for network in (self.pcnet_m, self.pcnet_c):
            if network is not None:
                network.eval()
        return self

    # ------------------------------------------------------------------
    # BaseDetector interface
    # ------------------------------------------------------------------
    @property
    def with_mask(self) -> bool:
        """Whether the detector predicts masks (always for this wrapper)."""
        return True

    def extract_feat(self, batch_inputs: Tensor) -> Any:
        """The detector's features."""
        return self.detector.extract_feat(batch_inputs)

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> Union[dict, tuple]:
        """The detector's losses (PCNet-M is not trained)."""
        return self.detector.loss(batch_inputs, batch_data_samples)

    def _forward(self, batch_inputs: Tensor,
                 batch_data_samples: Optional[SampleList] = None) -> Tuple:
        """The detector's raw outputs (no de-occlusion)."""
        return self.detector._forward(batch_inputs, batch_data_samples)

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Detect, then de-occlude the predicted instances.

        Args:
            batch_inputs (Tensor): Preprocessed images ``(B, C, H, W)``.
            batch_data_samples (list[DetDataSample]): Their data samples.
            rescale (bool): Predict at the original image size. Must be
                True: amodal completion works on original-size masks.

        Returns:
            list[DetDataSample]: The detector's predictions plus
            ``pred_instances.amodal_masks``, ``pred_instances.deoccluded``
            and ``pred_occlusion_order`` (and ``content_layers`` with
            ``pcnet_c``).
        """
        if not rescale:
            raise ValueError(
                'DeOcclusionDetector.predict needs rescale=True (masks at '
                'the original image size)')
        samples = self.detector.predict(
            batch_inputs, batch_data_samples, rescale=rescale)
        samples = self.sample_deoccluder()(samples)
        complete = self.content_completer()
        if complete is None:
            return samples
        images: List[Optional[np.ndarray]] = [None] * len(samples)
        without_file = [
            k for k, sample in enumerate(samples)
            if not sample.metainfo.get('img_path')
        ]
        if without_file:
            rebuilt = images_from_batch(batch_inputs, samples,
                                        self.data_preprocessor)
            for k in without_file:
                images[k] = rebuilt[k]
        return complete(samples, images)


def _detector_checkpoint_pre_hook(module: DeOcclusionDetector,
                                  state_dict: Dict[str, Any], prefix: str,
                                  *args: Any) -> None:
    """Accept plain detector checkpoints in the wrapper.

    When no key of ``state_dict`` under ``prefix`` starts with
    ``detector.``, ``pcnet_m.`` or ``pcnet_c.``, it is a detector's own
    state dict: move its keys under ``detector.`` and fill in the current
    PCNet-M / PCNet-C weights (and shared data-preprocessor buffers) so that
    nothing is reported missing and the networks keep the weights loaded
    from ``pcnet_m`` / ``pcnet_c``.
    """
    own = [k for k in state_dict if k.startswith(prefix)]
    if not own or any(k[len(prefix):].startswith((_DETECTOR, _PCNET_M,
                                                  _PCNET_C)) for k in own):
        return
    for key in own:
        state_dict[prefix + _DETECTOR + key[len(prefix):]] = state_dict.pop(
            key)
    for name, network in ((_PCNET_M, module.pcnet_m),
                          (_PCNET_C, module.pcnet_c)):
        if network is not None:
            for key, value in network.state_dict().items():
                state_dict[prefix + name + key] = value
    for key in module.state_dict():
        if key.startswith('data_preprocessor.') and \
                prefix + key not in state_dict and \
                prefix + _DETECTOR + key in state_dict:
            state_dict[prefix + key] = state_dict[prefix + _DETECTOR + key]
