# Old name of configs/amodal/mask-rcnn_r18_fpn_1xb4-300it_scenes-pseudo-amodal.py,
# kept so that existing commands and scripts keep working; the
# config itself lives there.
_base_ = ['./mask-rcnn_r18_fpn_1xb4-300it_scenes-pseudo-amodal.py']
