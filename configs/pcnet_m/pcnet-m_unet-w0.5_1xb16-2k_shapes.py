# PCNet-M trained self-supervised on the modal masks (only) of generated
# occlusion scenes of 40 MPEG-7 classes; the 10 classes bundled in
# data/shapes/mpeg7 are held out for testing (unseen shapes). The recipe of
# checkpoints/pcnet_m_shapes.pth; otherwise as
# configs/pcnet_m/pcnet-m_unet-w0.5_1xb16-2k_coco128.py (width 0.5, 128 x 128
# crops, batch 16, Adam with cosine decay, 2000 iterations).
#
# The training scenes need the 50-class MPEG-7 CE-Shape-1 Part B silhouettes
# (1000 GIFs; data/shapes/mpeg7 holds only the 10 test classes). Copy the
# *.gif files of github.com/reddevil0623/MPEG-7_analysis (commit 953b2b3,
# repository root) into data/shapes/mpeg7_ce_shape1_partB (or pass another
# folder to --shapes), then make the scenes:
#   python tools/make_occlusion_scenes.py \
#     --shapes data/shapes/mpeg7_ce_shape1_partB --out data/scenes/train \
#     --num-scenes 2000 --seed 1 --occlusion mixed --max-side 256 \
#     --exclude-classes apple,bell,bird,bottle,butterfly,camel,cup,elephant,hammer,horseshoe
# Old name: configs/pcnet_m_shapes_cpu.py (still works, an alias of this
# file).
_base_ = ['./pcnet-m_unet-w0.5_1xb16-2k_coco128.py']
train_dataloader = dict(
    dataset=dict(
        ann_file='data/scenes/train/annotations.json',
        data_format='amodal_coco'))
