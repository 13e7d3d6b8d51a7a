"""A hook that attaches scene de-occlusion to any MMDetection segmenter."""
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmdeocc.deocclusion.det_content import (
    DetSampleContentCompleter, build_det_sample_content_completer,
    content_options)
from mmdeocc.deocclusion.det_samples import (DetDeOcclusionConfigError,
                                             DetSampleDeOccluder,
                                             build_det_sample_deoccluder,
                                             check_detector_predicts_masks,
                                             deoccluder_options)

#: Marks a step function installed by this hook.
_MARK = '_deocclusion_hook_original'


@HOOKS.register_module()
class DeOcclusionHook(Hook):
    """De-occlude the detector's predictions during validation and testing.

    Adds ``pred_instances.amodal_masks``, ``pred_instances.deoccluded`` and
    ``pred_occlusion_order`` to every predicted data sample (see
    :mod:`mmdeocc.deocclusion.det_samples`), and with ``pcnet_c`` the content
    layers ``content_layers`` (see :mod:`mmdeocc.deocclusion.det_content`; the
    original image is read from the sample's ``img_path``), so that the
    evaluators - e.g.
    :class:`~mmdeocc.evaluation.AmodalMaskMetric`,
    :class:`~mmdeocc.evaluation.OcclusionOrderMetric`,
    :class:`~mmdeocc.evaluation.DumpDeOcclusionResults` - and the
    visualisation hook see them.

    Mechanism: mmengine's ``ValLoop`` / ``TestLoop`` call
    ``runner.model.val_step`` / ``test_step`` and hand the outputs to
    ``evaluator.process`` *before* the ``after_val_iter`` /
    ``after_test_iter`` hooks run, so editing the outputs in those hooks is
    too late. Instead, :meth:`before_val` / :meth:`before_test` replace the
    ``val_step`` / ``test_step`` of the runner's model (the
    DDP wrapper when there is one) by an instance attribute that calls the
    original step and de-occludes its outputs; :meth:`after_val` /
    :meth:`after_test` remove it again, restoring the original method.
    Training (``train_step``) is never touched. The model's weights, state
    dict and checkpoints are unchanged: PCNet-M lives in the hook.

    Config::

        custom_imports = dict(imports=['mmdeocc'], allow_failed_imports=False)
        custom_hooks = [
            dict(type='DeOcclusionHook',
                 pcnet_m='checkpoints/pcnet_m_cocoa.pth',
                 deoccluder=dict(amodal_th=0.2, batch_size=64),
                 score_thr=0.3, max_instances=100)
        ]

    Args:
        pcnet_m (str, optional): PCNet-M checkpoint path (mmdeocc format,
            loaded weights-only). None only for network-free methods
            (``deoccluder=dict(order_method='area', amodal_method='raw')``).
        checkpoint (str, optional): Alias of ``pcnet_m``.
        deoccluder (dict, optional): :class:`~mmdeocc.deocclusion.
            DeOccluder` options (``order_method``, ``amodal_method``,
            ``order_th``, ``amodal_th``, ``eraser_dilation``, ``batch_size``,
            ``fast``, ``device``, ...). ``device`` defaults to the device of
            the detector.
        score_thr (float): Detections below it are not de-occluded (amodal
            = modal, order rows 0).
        max_instances (int, optional): De-occlude at most this many
            detections per image (the best scores).
        gap_tolerance (int | float, optional): Touch-test tolerance; default
            :data:`~mmdeocc.deocclusion.det_samples.
            PREDICTED_MASKS_GAP_TOLERANCE` (predicted masks leave gaps); 0
            is the reference test.
        label_to_category (sequence | dict | str, optional): mmdet label ->
            dataset category id for PCNet-M models with ``use_category``; a
            sequence (index = label), a dict, or ``'dataset'`` for the
            ``cat_ids`` of the val/test dataset (mmdet's COCO-style
            datasets and mmdeocc's amodal datasets have them). Default None
            (no category ids, for class-agnostic PCNet-M models).
        pcnet_m_cfg_options (dict, optional): Overrides of the checkpoint's
            model config (e.g. ``{'use_category': True}``).
        pcnet_c (str, optional): PCNet-C checkpoint: also complete the
            content of the de-occluded instances and the background (slow:
            one PCNet-C pass per occluded instance plus one per image).
        content (dict, optional): :class:`~mmdeocc.deocclusion.
            ContentCompleter` options (``input_size``, ``hole_dilation``,
            ``keep_visible``, ``background_dilation``, ...); needs
            ``pcnet_c``.
        enable_val (bool): De-occlude during validation.
        enable_test (bool): De-occlude during testing.
    """

    priority = 'NORMAL'

    def __init__(self,
                 pcnet_m: Optional[str] = None,
                 checkpoint: Optional[str] = None,
                 deoccluder: Optional[Mapping[str, Any]] = None,
                 score_thr: float = 0.3,
                 max_instances: Optional[int] = 100,
                 gap_tolerance: Optional[Union[int, float]] = None,
                 label_to_category: Union[None, str, Sequence[int],
                                          Mapping[int, int]] = None,
                 pcnet_m_cfg_options: Optional[Mapping[str, Any]] = None,
                 pcnet_c: Optional[str] = None,
                 content: Optional[Mapping[str, Any]] = None,
                 enable_val: bool = True,
                 enable_test: bool = True) -> None:
        if pcnet_m is not None and checkpoint is not None and \
                pcnet_m != checkpoint:
            raise DetDeOcclusionConfigError(
                'DeOcclusionHook: give the PCNet-M checkpoint once, as '
                f'pcnet_m or checkpoint (got {pcnet_m!r} and {checkpoint!r})')
        if isinstance(label_to_category, str) and \
                label_to_category != 'dataset':
            raise DetDeOcclusionConfigError(
                "DeOcclusionHook: label_to_category must be None, 'dataset', "
                f'a sequence or a dict, got {label_to_category!r}')
        self.pcnet_m = pcnet_m if pcnet_m is not None else checkpoint
        self.deoccluder_cfg = dict(deoccluder or {})
        self.score_thr = score_thr
        self.max_instances = max_instances
        self.gap_tolerance = gap_tolerance
        self.label_to_category = label_to_category
        self.pcnet_m_cfg_options = pcnet_m_cfg_options
        self.enable_val = enable_val
        self.enable_test = enable_test
        self.pcnet_c = pcnet_c
        self.content_cfg = dict(content or {})
        self._sample_deoccluders: Dict[str, DetSampleDeOccluder] = {}
        self._content_completers: Dict[str, DetSampleContentCompleter] = {}
        self._patched: List[tuple] = []
        # Fail on bad options now rather than at the first validation.
        deoccluder_options(self.deoccluder_cfg, gap_tolerance, True)
        if content is not None and pcnet_c is None:
            raise DetDeOcclusionConfigError(
                'DeOcclusionHook: content options need a PCNet-C checkpoint '
                '(pcnet_c=<path>)')
        content_options(self.content_cfg)

    # ------------------------------------------------------------------
    # Building
    # ------------------------------------------------------------------
    @staticmethod
    def _detector(runner) -> torch.nn.Module:
        """The runner's model without its DDP / FSDP wrapper."""
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def _label_map(self, runner, mode: str):
        """Resolve ``label_to_category='dataset'`` from the loop's data."""
        if self.label_to_category != 'dataset':
            return self.label_to_category
        loader = runner.val_dataloader if mode == 'val' else \
            runner.test_dataloader
        dataset = loader.dataset
        cat_ids = getattr(dataset, 'cat_ids', None)
        if cat_ids is None:
            raise DetDeOcclusionConfigError(
                f"DeOcclusionHook: label_to_category='dataset' needs a "
                f'{mode} dataset with a cat_ids attribute (COCO-style), but '
                f'{type(dataset).__name__} has none; give the map '
                'explicitly')
        return list(cat_ids)

    def sample_deoccluder(self, runner, mode: str) -> DetSampleDeOccluder:
        """The (cached) de-occluder of a loop, built on first use.

        Args:
            runner (Runner): The runner.
            mode (str): ``'val'`` or ``'test'``.

        Returns:
            DetSampleDeOccluder: The de-occluder.
        """
        if mode in self._sample_deoccluders:
            return self._sample_deoccluders[mode]
        detector = self._detector(runner)
        from mmdeocc.engine.model_wrappers import DeOcclusionDetector
        if isinstance(detector, DeOcclusionDetector):
            raise DetDeOcclusionConfigError(
                'DeOcclusionHook: the model is already a DeOcclusionDetector '
                'that de-occludes its predictions; remove the hook or the '
                'wrapper')
        check_detector_predicts_masks(detector, 'DeOcclusionHook')
        device = self.deoccluder_cfg.get('device')
        if device is None:
            param = next(detector.parameters(), None)
            device = param.device if param is not None else 'cpu'
        built = build_det_sample_deoccluder(
            pcnet_m=self.pcnet_m,
            deoccluder=self.deoccluder_cfg,
            score_thr=self.score_thr,
            max_instances=self.max_instances,
            gap_tolerance=self.gap_tolerance,
            label_to_category=self._label_map(runner, mode),
            predicted_masks=True,
            device=device,
            pcnet_m_cfg_options=self.pcnet_m_cfg_options)
        self._sample_deoccluders[mode] = built
        if self.pcnet_c is not None:
            self._content_completers[mode] = \
                build_det_sample_content_completer(
                    self.pcnet_c,
                    self.content_cfg,
                    label_to_category=built.label_to_category,
                    device=device)
        print_log(
            f'DeOcclusionHook: de-occluding {mode} predictions with '
            f'{self.pcnet_m or "no network"} (order '
            f'{built.deoccluder.order_method}, amodal '
            f'{built.deoccluder.amodal_method}, gap_tolerance '
            f'{built.deoccluder.gap_tolerance}, score_thr {self.score_thr})'
            + (f' and content completion with {self.pcnet_c}'
               if self.pcnet_c else ''),
            logger='current')
        return built

    # ------------------------------------------------------------------
    # Patching the step methods
    # ------------------------------------------------------------------
    def _attach(self, runner, step_name: str, mode: str) -> None:
        """Wrap ``runner.model.<step_name>`` with de-occlusion."""
        model = runner.model
        current = getattr(model, step_name)
        if getattr(current, _MARK, None) is not None:
            return  # already attached (e.g. a loop that crashed earlier)
        deocclude = self.sample_deoccluder(runner, mode)
        complete = self._content_completers.get(mode)
        had_own = step_name in vars(model)

        def step(data, *args, **kwargs):
            outputs = deocclude(current(data, *args, **kwargs))
            return outputs if complete is None else complete(outputs)

        setattr(step, _MARK, current)
        setattr(model, step_name, step)
        self._patched.append((model, step_name, had_own, current))

    def _detach(self) -> None:
        """Restore every step method this hook replaced."""
        while self._patched:
            model, step_name, had_own, original = self._patched.pop()
            if had_own:
                setattr(model, step_name, original)
            elif step_name in vars(model):
                delattr(model, step_name)

    def before_val(self, runner) -> None:
        """Attach de-occlusion to ``val_step``."""
        if self.enable_val:
            self._attach(runner, 'val_step', 'val')

    def after_val(self, runner) -> None:
        """Restore ``val_step``."""
        self._detach()

    def before_test(self, runner) -> None:
        """Attach de-occlusion to ``test_step``."""
        if self.enable_test:
            self._attach(runner, 'test_step', 'test')

    def after_test(self, runner) -> None:
        """Restore ``test_step``."""
        self._detach()
