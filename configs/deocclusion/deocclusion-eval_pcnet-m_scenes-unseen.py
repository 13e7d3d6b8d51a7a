# De-occlusion benchmark on synthetic scenes of 10 MPEG-7 classes never seen
# in PCNet-M training (configs/pcnet_m/pcnet-m_unet-w0.5_1xb16-2k_shapes.py
# trains on the other 40).
# Make the test scenes first (about 20 s):
#   python tools/make_occlusion_scenes.py --shapes data/shapes/mpeg7 \
#     --out data/scenes/test_unseen --num-scenes 200 --seed 2 --occlusion mixed
# Then, in one run, every method on the same images (GT modal masks in):
#   python tools/analysis_tools/eval_deocclusion.py \
#     configs/deocclusion/deocclusion-eval_pcnet-m_scenes-unseen.py \
#     checkpoints/pcnet_m_shapes.pth \
#     --sup-checkpoint checkpoints/pcnet_sup_shapes.pth \
#     --out work_dirs/eval/scenes_unseen.json \
#     --out-md work_dirs/eval/scenes_unseen.md
# (or your own work_dirs/<config>/iter_2000.pth checkpoints).
# The PCNet-M model config is read from the checkpoint (no `model` key here),
# so checkpoints of any width / crop size load as trained.
# Old name: configs/eval/deocc_scenes_unseen.py (still works, an alias of
# this file).
_base_ = [
    '../_base_/datasets/deocc_scenes_unseen_eval.py',
    '../_base_/deocc_eval_runtime.py'
]
deocc_eval = dict(name='MPEG-7 scenes, unseen classes')
