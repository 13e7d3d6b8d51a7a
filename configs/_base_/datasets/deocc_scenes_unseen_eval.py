# Evaluation data: synthetic occlusion scenes of the 10 MPEG-7 classes that
# are held out of PCNet-M training (data/shapes/mpeg7: apple, bell, bird,
# bottle, butterfly, camel, cup, elephant, hammer, horseshoe), in the
# project's amodal COCO format (exact modal, amodal and order ground truth).
# Make them once (about 20 s):
#   python tools/make_occlusion_scenes.py --shapes data/shapes/mpeg7 \
#     --out data/scenes/test_unseen --num-scenes 200 --seed 2 --occlusion mixed
# Only the annotations are read by tools/test.py (masks in, no images).
data_root = 'data/scenes/test_unseen/'
test_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='AmodalCocoDataset',
        data_root=data_root,
        ann_file='annotations.json',
        data_prefix=dict(img='images/'),
        test_mode=True,
        pipeline=[]))
