# Old name of configs/deocclusion/deocclusion-eval_pcnet-m_scenes-unseen.py,
# kept so that existing commands and scripts keep working; the
# config itself lives there.
_base_ = ['../deocclusion/deocclusion-eval_pcnet-m_scenes-unseen.py']
