# Evaluation data: synthetic occlusion scenes of the 10 MPEG-7 classes that
# are held out of PCNet-M training (data/shapes/mpeg7: apple, bell, bird,
# bottle, butterfly, camel, cup, elephant, hammer, horseshoe), in the
# project's amodal COCO format (exact modal, amodal and order ground truth).
# Make them once (about 20 s):
#   python tools/make_occlusion_scenes.py --shapes data/shapes/mpeg7 \
#     --out data/scenes/test_unseen --num-scenes 200 --seed 2 --occlusion mixed
# Only the annotations are read by tools/analysis_tools/eval_deocclusion.py (masks in, no images).
_base_ = ['./deocc_eval_loader.py']
data_root = 'data/scenes/test_unseen/'
test_dataloader = dict(
    dataset=dict(
        type='AmodalCocoDataset',
        data_root=data_root,
        ann_file='annotations.json',
        data_prefix=dict(img='images/')))
