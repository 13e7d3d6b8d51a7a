# De-occlusion benchmark on real object outlines PCNet-M has never seen:
# occlusion scenes (exact modal, amodal and order ground truth) composited
# from the instance masks of the 24 COCO128 photos held out of
# configs/pcnet_m/pcnet-m_unet-w0.5_1xb16-8k_coco128-train104.py (80
# silhouettes, 23 classes). Make them once (about 20 s):
#   python tools/dataset_converters/split_coco.py \
#     data/coco128/annotations/instances_train2017.json \
#     --holdout-ids 9,312,438,612 --num-holdout 24 --seed 0 \
#     --out-dir data/coco128/splits
#   python tools/dataset_converters/coco_to_silhouettes.py \
#     data/coco128/splits/instances_train2017_holdout.json \
#     --out-dir data/shapes/coco128_holdout --keep-touching
#   python tools/make_occlusion_scenes.py \
#     --shapes data/shapes/coco128_holdout \
#     --out data/scenes/coco128_holdout --num-scenes 200 --seed 3 \
#     --occlusion mixed --max-side 256
# Then, every method on the same scenes (GT modal masks in):
#   python tools/analysis_tools/eval_deocclusion.py \
#     configs/deocclusion/deocclusion-eval_pcnet-m_coco128-holdout.py \
#     checkpoints/pcnet_m_coco128_128k.pth
_base_ = ['./deocclusion-eval_pcnet-m_scenes-unseen.py']
test_dataloader = dict(
    dataset=dict(data_root='data/scenes/coco128_holdout/'))
deocc_eval = dict(name='COCO128 held-out object outlines')
