# Options of tools/generate_amodal_labels.py for the generated occlusion
# scenes (MPEG-7 silhouettes) with the PCNet-M of
# configs/pcnet_m/pcnet-m_unet-w0.5_1xb16-2k_shapes.py (width 0.5, 128 x 128
# crops, no category encoding; all stored in the checkpoint). Reference thresholds.
#
#   python tools/generate_amodal_labels.py configs/amodal/deocc-labels_shapes.py \
#       checkpoints/pcnet_m_shapes.pth --format amodal_coco \
#       --ann data/scenes/amodal_seg/train/annotations.json \
#       --out data/scenes/amodal_seg/train/labels_ours.json
deoccluder = dict(
    order_th=0.1,
    amodal_th=0.2,
    enlarge_box=3.0,
    min_side_ratio=1.1,
    amodal_union_visible=True,  # labels contain the visible mask
    batch_size=64)
