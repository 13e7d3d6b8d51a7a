# Old name of configs/amodal/mask-rcnn_r18-w0.25_fpn_1xb4-ft-400it_scenes-pseudo-amodal.py,
# kept so that existing commands and scripts keep working; the
# config itself lives there.
_base_ = ['./mask-rcnn_r18-w0.25_fpn_1xb4-ft-400it_scenes-pseudo-amodal.py']
