# Evaluation data: KINS (amodal KITTI) test split, older release
# (instances_val.json: amodal `segmentation`, modal `inmodal_seg`), the file
# the reference evaluation used. The 2020 release (update_test_2020.json) is
# read by the same dataset class (auto-detected) and adds an annotated order
# (use it with --gt-order annotation). Expected layout:
#   data/kins/instances_val.json
#   data/kins/testing/image_2/*.png   (KITTI object images; not read here)
_base_ = ['./deocc_eval_loader.py']
data_root = 'data/kins/'
test_dataloader = dict(
    dataset=dict(
        type='KINSAmodalDataset',
        data_root=data_root,
        ann_file='instances_val.json',
        data_prefix=dict(img='testing/image_2/')))
