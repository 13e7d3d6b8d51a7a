# PCNet-M trained self-supervised on the modal masks (only) of generated
# occlusion scenes of 40 MPEG-7 classes; the 10 classes bundled in
# data/shapes/mpeg7 are held out for testing (unseen shapes). Recipe as
# configs/pcnet_m_coco128_cpu.py. Make the training scenes first:
#   python tools/make_occlusion_scenes.py \
#     --shapes ../shared/data/mpeg7_ce_shape1_partB --out data/scenes/train \
#     --num-scenes 2000 --seed 1 --occlusion mixed --max-side 256 \
#     --exclude-classes apple,bell,bird,bottle,butterfly,camel,cup,elephant,hammer,horseshoe
_base_ = ['./pcnet_m_coco128_cpu.py']
train_dataloader = dict(
    dataset=dict(
        ann_file='data/scenes/train/annotations.json',
        data_format='amodal_coco'))
