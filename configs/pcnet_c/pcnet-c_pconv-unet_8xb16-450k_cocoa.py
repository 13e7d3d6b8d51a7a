# PCNet-C on COCOA with the reference recipe (METHOD 3): surrogate occlusion
# always in case 1 (eraser in front), hole = eraser ∩ target, 256x256 RGB
# crops with the masks' geometry, 450k iterations, batch 16 per GPU x 8 GPUs:
#   bash tools/dist_train.sh \
#       configs/pcnet_c/pcnet-c_pconv-unet_8xb16-450k_cocoa.py 8
# COCOA images are COCO train2014 photos.
#
# Initialisation (reference): a public partial-conv inpainting model with a
# zero extra input channel:
#   python tools/expand_inpainting_ckpt.py pconv_inpainting.pth \
#       checkpoints/pcnet_c_init_from_inpainting.pth
# (or train from scratch: --cfg-options load_from=None
#  model.generator.window_rescale=True).
# COCOA uses a constant category (modal channel = the plain mask).
# Old name: configs/pcnet_c_cocoa.py (still works, an alias of this file).
_base_ = [
    '../_base_/models/pcnet_c.py',
    '../_base_/datasets/pcnet_c_instances.py',
    '../_base_/schedules/pcnet_c_450k.py',
    '../_base_/default_runtime.py',
]
model = dict(use_category=False, in_size=256)  # = the crop size of the data config
train_dataloader = dict(
    dataset=dict(
        ann_file='data/cocoa/annotations/COCO_amodal_train2014.json',
        data_format='cocoa',
        data_prefix=dict(img='data/cocoa/train2014')))
load_from = 'checkpoints/pcnet_c_init_from_inpainting.pth'
default_hooks = dict(checkpoint=dict(interval=10000, max_keep_ckpts=3))
