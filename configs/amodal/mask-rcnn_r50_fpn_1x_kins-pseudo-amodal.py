# Old name of configs/amodal/mask-rcnn_r50_fpn_8xb2-1x_kins-pseudo-amodal.py,
# kept so that existing commands and scripts keep working; the
# config itself lives there.
_base_ = ['./mask-rcnn_r50_fpn_8xb2-1x_kins-pseudo-amodal.py']
