# PCNet-Sup, the supervised upper bound of the amodal tables (METHOD 2.5):
# the same UNet and recipe as
# configs/pcnet_m/pcnet-m_unet-w0.5_1xb16-2k_shapes.py (width 0.5,
# 128 x 128 crops, batch 16, Adam with cosine decay, 2000 iterations), but
# trained with ground-truth amodal masks instead of surrogate occlusion:
# input channel 0 = the target's modal mask, channel 1 = the union of the
# modal masks of its ground-truth ancestors (objects occluding it directly
# or transitively; order derived from the masks as in the evaluation,
# METHOD 4.1), label = its ground-truth amodal mask; same crop rule and
# shift / scale / flip augmentation as PCNet-M; in 20% of the samples
# (nonoccluder_prob, the counterpart of PCNet-M's case 2) the eraser also
# holds the touching objects that do NOT occlude the target, label unchanged,
# so the model learns not to fill a wrongly ordered neighbour (0 = the first
# recipe; what changed and why: docs/results.md, PCNet-Sup section).
# The recipe of checkpoints/pcnet_sup_shapes.pth.
# At test time it runs in the OG pipeline (eraser = ancestors under the
# evaluated ordering):
#   python tools/analysis_tools/eval_deocclusion.py \
#     configs/deocclusion/deocclusion-eval_pcnet-m_scenes-unseen.py \
#     work_dirs/pcnet-m_unet-w0.5_1xb16-2k_shapes/iter_2000.pth \
#     --sup-checkpoint work_dirs/pcnet-sup_unet-w0.5_1xb16-2k_shapes/iter_2000.pth
# Training data: the scenes of pcnet-m_unet-w0.5_1xb16-2k_shapes.py (40
# MPEG-7 classes; the 10 classes of data/shapes/mpeg7 are held out); make
# them with the command in that file's header, then
#   python tools/train.py configs/pcnet_m/pcnet-sup_unet-w0.5_1xb16-2k_shapes.py
# Old name: configs/pcnet_sup_shapes_cpu.py (still works, an alias of this
# file).
_base_ = ['./pcnet-m_unet-w0.5_1xb16-2k_shapes.py']
train_dataloader = dict(
    dataset=dict(
        type='SupervisedAmodalInstanceDataset',
        ann_file='data/scenes/train/annotations.json',
        data_format='amodal_coco',
        order_source='masks',  # or 'annotation' (the scenes' occlusion_edges)
        pipeline=[
            dict(type='SupervisedAmodalSample', size=128,  # = model.in_size
                 nonoccluder_prob=0.2),
            dict(type='PackPCNetInputs')
        ]))
