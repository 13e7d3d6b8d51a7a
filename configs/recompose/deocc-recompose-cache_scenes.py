# Options of tools/build_recompose_cache.py for the generated occlusion scenes
# (MPEG-7 silhouettes): PCNet-M of configs/pcnet_m/pcnet-m_unet-w0.5_1xb16-2k_
# shapes.py (checkpoints/pcnet_m_shapes.pth, trained on 40 other classes) for
# the order and amodal masks, PCNet-C of configs/pcnet_c/pcnet-c_pconv-unet-
# w0.25_1xb8-4k_coco128.py (checkpoints/pcnet_c_w025_coco128.pth) for the
# content. Reference thresholds; amodal masks contain the visible ones.
#
#   python tools/build_recompose_cache.py \
#       configs/recompose/deocc-recompose-cache_scenes.py \
#       checkpoints/pcnet_m_shapes.pth checkpoints/pcnet_c_w025_coco128.pth \
#       --ann data/scenes/tiny_det_train/annotations.json \
#       --img-dir data/scenes/tiny_det_train/images \
#       --out-dir data/scenes/tiny_det_train/recompose_cache
deoccluder = dict(
    order_th=0.1,
    amodal_th=0.2,
    enlarge_box=3.0,
    min_side_ratio=1.1,
    amodal_union_visible=True,
    batch_size=64)
# ContentCompleter options (mmdeocc.deocclusion.ContentCompleter). The
# background is inpainted with OpenCV's Telea method, not the PCNet-C: the
# small PCNet-C was trained on COCO photos and leaves dark ghosts of removed
# objects on the scenes' flat backgrounds (the reference, too, ships a
# separate background model); objects are completed by the PCNet-C.
content = dict(hole_dilation=5, keep_visible=True, background_dilation=5,
               background_inpainting='telea', batch_size=16)
