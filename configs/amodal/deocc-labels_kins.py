# Options of tools/generate_amodal_labels.py for KINS (paper Table 4).
# The PCNet-M itself comes from the checkpoint (its stored config: width 2,
# use_category=True with the raw KINS category ids 1..8, as the released
# KINS weights expect; convert those with tools/convert_official_ckpt.py).
# Thresholds are those of the reference evaluation (METHOD 2.2 / 2.4); the
# reference demos used amodal_th=0.4 on KINS
# (--cfg-options deoccluder.amodal_th=0.4).
#
#   python tools/generate_amodal_labels.py configs/amodal/deocc-labels_kins.py \
#       checkpoints/pcnet_m_kins.pth --ann data/kins/update_train_2020.json \
#       --format kins --out data/kins/pseudo_amodal/train_ours.json \
#       --device cuda --fast
deoccluder = dict(
    order_th=0.1,
    amodal_th=0.2,
    enlarge_box=3.0,
    min_side_ratio=1.1,
    gap_tolerance=0,  # annotated modal masks touch exactly
    eraser_dilation=0,
    amodal_union_visible=True,  # labels contain the visible mask
    amodal_restrict_to_eraser=False,
    batch_size=256)  # crops per network call (GPU); 64 on CPU
