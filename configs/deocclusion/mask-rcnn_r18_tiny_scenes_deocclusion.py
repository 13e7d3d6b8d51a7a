# Old name of configs/deocclusion/mask-rcnn_r18-w0.25_fpn_deocc-hook_1xb4-300it_scenes.py,
# kept so that existing commands and scripts keep working; the
# config itself lives there.
_base_ = ['./mask-rcnn_r18-w0.25_fpn_deocc-hook_1xb4-300it_scenes.py']
