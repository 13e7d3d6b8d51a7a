# The reference's surrogate-occlusion sampling exactly (METHOD 1.3-1.4): when
# 100 placements of an eraser all miss the covered-fraction range, the last
# placement is kept ('keep_last'), where mmdeocc's default draws another
# eraser ('resample').
_base_ = ['./pcnet_m_instances.py']
train_pipeline = [
    dict(
        type='SurrogateOcclusion',
        size=256,
        enlarge_box=3.0,
        min_side_ratio=1.1,
        eraser_front_prob=0.8,
        on_failure='keep_last'),
    dict(type='PackPCNetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
