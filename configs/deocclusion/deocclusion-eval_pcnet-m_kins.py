# De-occlusion benchmark on KINS (paper Tables 1 and 2, KINS column) with the
# reference evaluation settings: order_th 0.1, amodal_th 0.2, enlarge_box 3,
# minimum crop side 1.1 x the box side. Needs data/kins (see
# configs/_base_/datasets/kins_eval.py) and a KINS PCNet-M checkpoint, e.g.
# the released one converted with tools/convert_official_ckpt.py:
#   python tools/convert_official_ckpt.py KINS_pcnet_m.pth.tar \
#     checkpoints/pcnet_m_kins.pth --use-category
#   python tools/analysis_tools/eval_deocclusion.py configs/deocclusion/deocclusion-eval_pcnet-m_kins.py \
#     checkpoints/pcnet_m_kins.pth --out work_dirs/eval/kins.json
# Published (METHOD 4.4): ordering Area / Y-axis / Convex / ours =
# 77.4 / 81.9 / 76.3 / 92.5 (KINS used the larger-on-top area rule:
# 'area_large'); amodal IoU Raw / Convex^R / NOG / OG = 87.03 / 90.75 /
# 93.42 / 94.76.
# Old name: configs/eval/deocc_kins.py (still works, an alias of this file).
_base_ = [
    '../_base_/datasets/kins_eval.py', '../_base_/models/pcnet_m_unet2.py',
    '../_base_/deocc_eval_runtime.py'
]

# The reference KINS PCNet-M: width 2, channel 0 times the raw KINS
# category_id (1..8). This config wins over the one stored in the
# checkpoint (mmdet tools/test.py semantics); delete it to use the stored one.
model = dict(use_category=True)
deocc_eval = dict(
    name='KINS test',
    methods=['ours', 'ours_nog', 'area', 'area_large', 'yaxis', 'convex',
             'raw', 'convexr'])
