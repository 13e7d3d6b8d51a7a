# Shared settings of the de-occlusion evaluation configs (tools/analysis_tools/eval_deocclusion.py).
default_scope = 'mmdet'
custom_imports = dict(imports=['mmdeocc'], allow_failed_imports=False)

# DeOccluder options shared by every method (reference evaluation values,
# METHOD 2.1-2.4): touch test without tolerance, no eraser dilation, amodal
# masks neither united with the visible mask nor restricted to the eraser.
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
# Benchmark defaults (eval_deocclusion.py flags override them); each evaluation
# config sets `name` and may set `methods`.
deocc_eval = dict(
    name='',
    methods=['ours', 'ours_nog', 'area', 'yaxis', 'convex', 'raw',
             'convexr'],
    gt_order='masks',  # METHOD 4.1; 'annotation' = the annotated order
    tie_rule='reference',
    skip_empty_modal=True,
    sup_order='ours')  # PCNet-Sup erasers: ancestors under PCNet-M's order
