"""DeOcclusionInferencer: masks from annotations or from a detector;
JSON records, pictures and bad inputs."""
import json
import shutil

import cv2
import numpy as np
import pytest
import torch
from det_fixtures import scene_masks

from mmdeocc.apis import (DeOcclusionInferencer, ImageSkipped,
                          UnreadableImageError, list_images, read_image)
from mmdeocc.apis.inferencer import PICTURE_MIN_SIDE
from mmdeocc.deocclusion import DeOccluder
from mmdeocc.models import load_pcnet_m
from mmdeocc.structures import DeOcclusionResult
from mmdeocc.visualization import (draw_order_graph, object_colours,
                                   render_deocclusion)


@pytest.fixture(scope='module')
def given(api_scenes, api_pcnet):
    return DeOcclusionInferencer(masks_from=str(api_scenes),
                                 pcnet_m=str(api_pcnet))


def test_masks_from_annotations(given, api_scenes, api_pcnet, tmp_path):
    out = given(str(api_scenes.parent / 'images'), out_dir=str(tmp_path),
                no_save_pred=False, show_progress=False)
    truth = scene_masks(api_scenes)
    assert out['summary']['num_processed'] == len(truth) == 3
    assert out['summary']['settings']['gap_tolerance'] == 0  # reference
    # users' amodal masks contain the visible mask (USER_AMODAL_UNION_VISIBLE)
    core = DeOccluder(load_pcnet_m(str(api_pcnet)), amodal_union_visible=True)
    for result in out['results']:
        path = tmp_path / 'preds' / f'{result.name}.json'
        record = json.loads(path.read_text())
        modal, _, cats = truth[record['file_name']]
        parsed = DeOcclusionResult.from_dict(record)
        assert np.array_equal(parsed.modal_masks, modal)
        expected = core(torch.from_numpy(modal))
        assert np.array_equal(parsed.order, expected.order.numpy())
        assert np.array_equal(parsed.amodal_masks,
                              expected.amodal_masks.numpy())
        assert record['category_ids'] == cats.tolist()
        assert record['category_names'][0] in given.class_names
        assert 'scores' not in record  # annotations have no scores
        assert record['occlusion_edges'] == [
            [int(i), int(j)] for i, j in zip(*np.nonzero(parsed.order > 0))
        ]
        assert len(record['ann_ids']) == len(modal)
        # The pictures are exactly the drawings of the recorded result.
        image = read_image(result.img_path)
        colours = object_colours(len(modal))
        vis = cv2.imread(str(tmp_path / 'vis' / f'{result.name}.png'))
        assert np.array_equal(
            vis,
            render_deocclusion(image, parsed.modal_masks,
                               parsed.amodal_masks, parsed.order,
                               record['category_names'], colours,
                               min_side=PICTURE_MIN_SIDE))
        # small images are drawn enlarged so that labels stay readable
        factor = -(-PICTURE_MIN_SIDE // min(image.shape[:2]))
        assert vis.shape[:2] == (image.shape[0] * factor,
                                 image.shape[1] * factor)
        graph = cv2.imread(str(tmp_path / 'order' / f'{result.name}.png'))
        assert np.array_equal(
            graph, draw_order_graph(parsed.order, record['category_names'],
                                    colours))
    summary = json.loads((tmp_path / 'summary.json').read_text())
    assert summary['num_skipped'] == 0


def test_bad_images_are_skipped_and_counted(given, api_scenes, tmp_path):
    folder = tmp_path / 'in'
    shutil.copytree(api_scenes.parent / 'images', folder)
    (folder / 'broken.png').write_bytes(b'not a png at all')
    cv2.imwrite(str(folder / 'stranger.png'),
                np.zeros((8, 8, 3), np.uint8))  # not in the annotations
    out = given(str(folder), out_dir=str(tmp_path / 'out'),
                show_progress=False, batch_size=2)
    assert out['summary']['num_processed'] == 3
    reasons = {r['input'].split('/')[-1]: r['reason'] for r in out['skipped']}
    assert set(reasons) == {'broken.png', 'stranger.png'}
    assert 'cannot decode image' in reasons['broken.png']
    assert 'broken.png' in reasons['broken.png']
    assert 'not in' in reasons['stranger.png']
    with pytest.raises(ImageSkipped, match='broken.png'):
        given(str(folder), show_progress=False, strict=True)


def test_image_without_objects(api_scenes, api_pcnet, tmp_path):
    data = json.loads(api_scenes.read_text())
    first = data['images'][0]['id']
    data['annotations'] = [a for a in data['annotations']
                           if a['image_id'] != first]
    ann = tmp_path / 'ann.json'
    ann.write_text(json.dumps(data))
    inferencer = DeOcclusionInferencer(masks_from=str(ann),
                                       pcnet_m=str(api_pcnet))
    path = api_scenes.parent / 'images' / data['images'][0]['file_name']
    out = inferencer(str(path), out_dir=str(tmp_path / 'out'),
                     no_save_pred=False, show_progress=False)
    result = out['results'][0]
    record = json.loads(open(result.files['pred']).read())
    assert record['num_objects'] == 0 and record['order'] == []
    assert DeOcclusionResult.from_dict(record).amodal_masks.shape[0] == 0
    image = read_image(str(path))
    assert np.array_equal(
        cv2.imread(result.files['vis']),
        render_deocclusion(image, np.zeros((0, ) + image.shape[:2], bool),
                           np.zeros((0, ) + image.shape[:2], bool),
                           min_side=PICTURE_MIN_SIDE))
    assert cv2.imread(result.files['order']) is not None


def test_detector_mode_paths_and_arrays(api_detector, api_pcnet, api_scenes,
                                        tmp_path):
    cfg_file, ckpt = api_detector
    inferencer = DeOcclusionInferencer(
        det_config=str(cfg_file), det_checkpoint=str(ckpt),
        pcnet_m=str(api_pcnet), score_thr=0.0)
    assert inferencer.settings['gap_tolerance'] == 0.05
    paths = list_images(str(api_scenes.parent / 'images'))[:2]
    arrays = [read_image(p) for p in paths]
    by_path = inferencer(paths, batch_size=2, show_progress=False)
    by_array = inferencer(arrays, show_progress=False,
                          out_dir=str(tmp_path), return_vis=True)
    for a, b in zip(by_path['results'], by_array['results']):
        assert b.name.startswith('array_')
        assert a.record['num_objects'] == 5
        assert a.record['scores'] == b.record['scores']
        assert a.record['amodal_masks'] == b.record['amodal_masks']
        assert a.record['order'] == b.record['order']
        assert all(a.record['deoccluded'])
        factor = -(-PICTURE_MIN_SIDE // min(arrays[0].shape[:2]))
        assert b.picture.shape == (arrays[0].shape[0] * factor,
                                   arrays[0].shape[1] * factor, 3)
    # Only de-occluded detections are drawn, labelled with their indices.
    capped = DeOcclusionInferencer(
        det_config=str(cfg_file), det_checkpoint=str(ckpt),
        pcnet_m=str(api_pcnet), score_thr=0.0, max_instances=2)
    result = capped(paths[0], show_progress=False, return_vis=True)[
        'results'][0]
    record = result.record
    keep = np.flatnonzero(record['deoccluded'])
    assert len(keep) == 2 and record['num_objects'] == 5
    parsed = DeOcclusionResult.from_dict(record)
    names = [record['category_names'][k] for k in keep]
    colours = object_colours(5)[keep]
    sub_order = parsed.order[np.ix_(keep, keep)]
    assert np.array_equal(
        result.picture,
        render_deocclusion(arrays[0], parsed.modal_masks[keep],
                           parsed.amodal_masks[keep], sub_order, names,
                           colours, ids=keep.tolist(),
                           min_side=PICTURE_MIN_SIDE))
    assert np.array_equal(
        result.graph,
        draw_order_graph(sub_order, names, colours, ids=keep.tolist()))
    # No detection at all: empty but valid outputs.
    none = DeOcclusionInferencer(
        det_config=str(cfg_file), det_checkpoint=str(ckpt),
        pcnet_m=str(api_pcnet),
        cfg_options={'model.test_cfg.rcnn.score_thr': 1.01})
    out = none(paths[0], out_dir=str(tmp_path / 'none'), no_save_pred=False,
               show_progress=False)
    record = json.loads(open(out['results'][0].files['pred']).read())
    assert record['num_objects'] == 0 and record['scores'] == []


def test_read_image_and_list_images_errors(tmp_path):
    with pytest.raises(UnreadableImageError, match='missing.png'):
        read_image(str(tmp_path / 'missing.png'))
    with pytest.raises(FileNotFoundError, match='no image'):
        list_images(str(tmp_path))
    for name in ('f10.png', 'f2.png', 'f1.png', 'notes.txt'):
        (tmp_path / name).write_bytes(b'')
    assert [p.split('/')[-1] for p in list_images(str(tmp_path))] == [
        'f1.png', 'f2.png', 'f10.png']


def test_reused_out_dir_holds_only_the_new_run(given, api_scenes, tmp_path):
    from mmdeocc.apis.inference_outputs import clean_out_dir
    images = sorted((api_scenes.parent / 'images').iterdir())
    given([str(p) for p in images], out_dir=str(tmp_path),
          no_save_pred=False, show_progress=False)
    assert len(list((tmp_path / 'preds').iterdir())) == len(images)
    given(str(images[0]), out_dir=str(tmp_path), no_save_pred=False,
          show_progress=False)
    assert [p.stem for p in (tmp_path / 'preds').iterdir()] == [
        images[0].stem
    ]
    summary = json.loads((tmp_path / 'summary.json').read_text())
    assert summary['num_processed'] == 1
    # a folder with outputs but no summary is not ours: refused
    foreign = tmp_path / 'foreign'
    (foreign / 'vis').mkdir(parents=True)
    (foreign / 'vis' / 'mine.png').write_bytes(b'x')
    with pytest.raises(FileExistsError, match='no summary.json'):
        clean_out_dir(str(foreign))
    assert (foreign / 'vis' / 'mine.png').exists()


def test_det_inferencer_call_patterns(api_detector, api_pcnet, api_scenes,
                                      tmp_path):
    """Called like mmdet's DetInferencer: same arguments, same prediction
    dicts (labels, scores, bboxes, masks identical to DetInferencer's on
    the plain detector) plus the de-occlusion fields."""
    from mmdet.apis import DetInferencer
    from mmdet.structures import DetDataSample
    cfg_file, ckpt = api_detector
    paths = list_images(str(api_scenes.parent / 'images'))[:2]
    ours = DeOcclusionInferencer(model=str(cfg_file), weights=str(ckpt),
                                 pcnet_m=str(api_pcnet), score_thr=0.0,
                                 device='cpu')
    out_dir = tmp_path / 'out'
    out = ours(paths, batch_size=2, out_dir=str(out_dir), no_save_pred=False,
               pred_score_thr=0.0, return_vis=True, show_progress=False)
    assert set(out) >= {'predictions', 'visualization'}
    mmdet = DetInferencer(model=str(cfg_file), weights=str(ckpt),
                          device='cpu', show_progress=False)
    plain = mmdet(paths, batch_size=2)['predictions']
    for pred, ref, path in zip(out['predictions'], plain, paths):
        for key in ('labels', 'scores', 'bboxes'):
            assert np.allclose(pred[key], ref[key], atol=1e-4), key
        assert pred['masks'] == ref['masks']
        n = len(ref['labels'])
        assert len(pred['amodal_masks']) == n == len(pred['order'])
        assert len(pred['deoccluded']) == n
        stem = path.split('/')[-1].rsplit('.', 1)[0]
        saved = json.loads((out_dir / 'preds' / f'{stem}.json').read_text())
        assert saved == pred
        assert (out_dir / 'vis' / f'{stem}.png').is_file()
    assert len(out['visualization']) == 2
    vis = out['visualization'][0]
    assert vis.ndim == 3 and vis.dtype == np.uint8
    samples = ours(paths[0], return_datasamples=True,
                   show_progress=False)['predictions']
    assert isinstance(samples[0], DetDataSample)
    assert 'amodal_masks' in samples[0].pred_instances
    num = len(samples[0].pred_instances)
    assert tuple(samples[0].pred_occlusion_order.shape) == (num, num)
    with pytest.raises(ValueError, match='not both'):
        DeOcclusionInferencer(model=str(cfg_file), det_config=str(cfg_file))


def test_deocclusion_visualizer(api_detector, api_pcnet, api_scenes,
                                tmp_path):
    """The registered visualizer draws the de-occlusion picture beside the
    order graph; samples without de-occlusion are drawn as mmdet does."""
    from mmdet.registry import VISUALIZERS
    from mmdet.structures import DetDataSample
    from mmdet.visualization import DetLocalVisualizer

    from mmdeocc.visualization import (DeOcclusionVisualizer,
                                       deocclusion_pictures, side_by_side)
    cfg_file, ckpt = api_detector
    inferencer = DeOcclusionInferencer(
        det_config=str(cfg_file), det_checkpoint=str(ckpt),
        pcnet_m=str(api_pcnet), score_thr=0.0)
    path = list_images(str(api_scenes.parent / 'images'))[0]
    sample = inferencer(path, return_datasamples=True,
                        show_progress=False)['predictions'][0]
    visualizer = VISUALIZERS.build(
        dict(type='DeOcclusionVisualizer', name='deocc_vis_test'))
    assert isinstance(visualizer, DeOcclusionVisualizer)
    classes = inferencer.class_names
    visualizer.dataset_meta = dict(classes=classes,
                                   palette=[(220, 20, 60)] * len(classes))
    image = read_image(path)
    out_file = tmp_path / 'drawn.png'
    visualizer.add_datasample('x', image[..., ::-1], sample, draw_gt=False,
                              pred_score_thr=0.0, out_file=str(out_file))
    names = [inferencer.class_names[k]
             for k in sample.pred_instances.labels.tolist()]
    picture, graph = deocclusion_pictures(image, sample, names)
    assert np.array_equal(cv2.imread(str(out_file)),
                          side_by_side([picture, graph]))
    plain = DetDataSample(metainfo=sample.metainfo)
    plain.pred_instances = sample.pred_instances.clone()
    del plain.pred_instances.amodal_masks
    np.random.seed(0)  # mmdet jitters mask colours with np.random
    visualizer.add_datasample('y', image[..., ::-1], plain, draw_gt=False,
                              pred_score_thr=0.0)
    reference = DetLocalVisualizer(name='deocc_vis_ref')
    reference.dataset_meta = visualizer.dataset_meta
    np.random.seed(0)
    reference.add_datasample('y', image[..., ::-1], plain, draw_gt=False,
                             pred_score_thr=0.0)
    assert np.array_equal(visualizer.get_image(), reference.get_image())
