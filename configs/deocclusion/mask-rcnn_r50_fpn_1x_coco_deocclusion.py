# Old name of configs/deocclusion/mask-rcnn_r50_fpn_deocc-hook_8xb2-1x_coco.py,
# kept so that existing commands and scripts keep working; the
# config itself lives there.
_base_ = ['./mask-rcnn_r50_fpn_deocc-hook_8xb2-1x_coco.py']
