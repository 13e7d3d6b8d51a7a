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
_base_ = [
    '../_base_/datasets/deocc_scenes_unseen_eval.py',
    '../_base_/deocc_eval_runtime.py'
]
deocc_eval = dict(name='MPEG-7 scenes, unseen classes')
