# Instance-level surrogate-occlusion data for PCNet-M (METHOD 1.3-1.4).
# Only modal masks are read; PCNet-M never reads images.
data_root = 'data/'
ann_file = ''  # set by the dataset config
data_format = 'coco'  # 'coco' | 'cocoa' | 'kins' | 'amodal_coco'

surrogate_occlusion = dict(
    type='SurrogateOcclusion',
    size=256,
    enlarge_box=3.0,
    min_side_ratio=1.1,
    eraser_front_prob=0.8,
    # 'resample' draws another eraser when 100 placements fail; the
    # reference keeps the last failed placement ('keep_last').
    on_failure='resample')
train_pipeline = [surrogate_occlusion, dict(type='PackPCNetInputs')]

train_dataloader = dict(
    batch_size=32,  # per GPU; the reference used 32 x 8 GPUs = 256
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteRoundSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='PCNetInstanceDataset',
        ann_file=ann_file,
        data_format=data_format,
        pipeline=train_pipeline))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
