# PCNet-M on the real modal masks of 104 of the 128 COCO128 photos, the
# 24 others (the 4 demo photos + 20 drawn with seed 0) held out for
# evaluation on objects it has never seen (docs/results.md "Held-out COCO128
# objects"). The 128k-sample recipe of pcnet-m_unet-w0.5_1xb16-8k_shapes.py
# (width 0.5, 128-px crops, batch 16, Adam 1e-3 with cosine decay over
# 8,000 iterations), about 1.5 h on one loaded CPU core; committed as
# checkpoints/pcnet_m_coco128_128k.pth. Make the split first:
#   python tools/dataset_converters/split_coco.py \
#       data/coco128/annotations/instances_train2017.json \
#       --holdout-ids 9,312,438,612 --num-holdout 24 --seed 0 \
#       --out-dir data/coco128/splits
# Longer than a short session: resume with `--resume`.
_base_ = ['./pcnet-m_unet-w0.5_1xb16-8k_shapes.py']
train_dataloader = dict(
    dataset=dict(
        ann_file='data/coco128/splits/instances_train2017_train.json',
        data_format='coco'))
