# De-occlusion benchmark on COCOA (paper Tables 1 and 2, COCOA column) with
# the reference evaluation settings: order_th 0.1, amodal_th 0.2,
# enlarge_box 3, minimum crop side 1.1 x the box side. Needs data/cocoa (see
# configs/_base_/datasets/cocoa_eval.py) and a COCOA PCNet-M checkpoint,
# e.g. the released one converted with tools/convert_official_ckpt.py:
#   python tools/convert_official_ckpt.py COCOA_pcnet_m.pth.tar \
#     checkpoints/pcnet_m_cocoa.pth
#   python tools/analysis_tools/eval_deocclusion.py configs/deocclusion/deocclusion-eval_pcnet-m_cocoa.py \
#     checkpoints/pcnet_m_cocoa.pth --out work_dirs/eval/cocoa.json
# Published (METHOD 4.4): ordering Area / Y-axis / Convex / ours =
# 62.4 / 58.7 / 76.0 / 87.1; amodal IoU Raw / Convex^R / NOG / OG =
# 65.47 / 74.43 / 76.91 / 81.35. Unlike the reference, fully occluded
# regions (empty visible mask) are not scored (the reference cropped them
# with the ground-truth amodal box).
# Old name: configs/eval/deocc_cocoa.py (still works, an alias of this file).
_base_ = [
    '../_base_/datasets/cocoa_eval.py', '../_base_/models/pcnet_m_unet2.py',
    '../_base_/deocc_eval_runtime.py'
]

# The reference COCOA PCNet-M: width 2, constant category (use_category
# off). This config wins over the one stored in the checkpoint.
deocc_eval = dict(name='COCOA val')
