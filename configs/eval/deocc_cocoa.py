# De-occlusion benchmark on COCOA (paper Tables 1 and 2, COCOA column) with
# the reference evaluation settings: order_th 0.1, amodal_th 0.2,
# enlarge_box 3, minimum crop side 1.1 x the box side. Needs data/cocoa (see
# configs/_base_/datasets/cocoa_eval.py) and a COCOA PCNet-M checkpoint,
# e.g. the released one converted with tools/convert_official_ckpt.py:
#   python tools/convert_official_ckpt.py COCOA_pcnet_m.pth.tar \
#     checkpoints/pcnet_m_cocoa.pth
#   python tools/test.py configs/eval/deocc_cocoa.py \
#     checkpoints/pcnet_m_cocoa.pth --out work_dirs/eval/cocoa.json
# Published (METHOD 4.4): ordering Area / Y-axis / Convex / ours =
# 62.4 / 58.7 / 76.0 / 87.1; amodal IoU Raw / Convex^R / NOG / OG =
# 65.47 / 74.43 / 76.91 / 81.35. Unlike the reference, fully occluded
# regions (empty visible mask) are not scored (the reference cropped them
# with the ground-truth amodal box).
_base_ = ['../_base_/datasets/cocoa_eval.py']
default_scope = 'mmdet'
custom_imports = dict(imports=['mmdeocc'], allow_failed_imports=False)

# The reference COCOA PCNet-M: width 2, constant category (use_category
# off). This config wins over the one stored in the checkpoint.
model = dict(
    type='PCNetM',
    width=2,
    in_size=256,
    use_category=False,
    category_map=None,
    inmask_weight=5.0)
deoccluder = dict(
    order_th=0.1,
    amodal_th=0.2,
    enlarge_box=3.0,
    min_side_ratio=1.1,
    gap_tolerance=0,
    eraser_dilation=0,
    amodal_union_visible=False,
    amodal_restrict_to_eraser=False,
    batch_size=64)
deocc_eval = dict(
    name='COCOA val',
    methods=['ours', 'ours_nog', 'area', 'yaxis', 'convex', 'raw',
             'convexr'],
    gt_order='masks',
    tie_rule='reference',
    skip_empty_modal=True,
    sup_order='ours')
