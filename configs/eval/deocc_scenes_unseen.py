# De-occlusion benchmark on synthetic scenes of 10 MPEG-7 classes never seen
# in PCNet-M training (configs/pcnet_m_shapes_cpu.py trains on the other 40).
# Make the test scenes first (about 20 s):
#   python tools/make_occlusion_scenes.py --shapes data/shapes/mpeg7 \
#     --out data/scenes/test_unseen --num-scenes 200 --seed 2 --occlusion mixed
# Then, in one run, every method on the same images (GT modal masks in):
#   python tools/test.py configs/eval/deocc_scenes_unseen.py \
#     work_dirs/pcnet_m_shapes_cpu/iter_2000.pth \
#     --sup-checkpoint work_dirs/pcnet_sup_shapes_cpu/iter_2000.pth \
#     --out work_dirs/eval/scenes_unseen.json \
#     --out-md work_dirs/eval/scenes_unseen.md
# The PCNet-M model config is read from the checkpoint (no `model` key here),
# so checkpoints of any width / crop size load as trained.
_base_ = ['../_base_/datasets/deocc_scenes_unseen_eval.py']
default_scope = 'mmdet'
custom_imports = dict(imports=['mmdeocc'], allow_failed_imports=False)

# DeOccluder options shared by every method (reference evaluation values,
# METHOD 2.1-2.4): touch test without tolerance, no eraser dilation, amodal
# masks neither united with the visible mask nor restricted to the eraser.
deoccluder = dict(
    order_th=0.1,
    amodal_th=0.2,
    enlarge_box=3.0,
    min_side_ratio=1.1,
    gap_tolerance=0,
    eraser_dilation=0,
    amodal_union_visible=False,
    amodal_restrict_to_eraser=False,
    batch_size=64)
# Benchmark defaults (tools/test.py flags override them).
deocc_eval = dict(
    name='MPEG-7 scenes, unseen classes',
    methods=['ours', 'ours_nog', 'area', 'yaxis', 'convex', 'raw',
             'convexr'],
    gt_order='masks',  # METHOD 4.1; 'annotation' = the occlusion_edges
    tie_rule='reference',
    skip_empty_modal=True,
    sup_order='ours')  # PCNet-Sup erasers: ancestors under PCNet-M's order
