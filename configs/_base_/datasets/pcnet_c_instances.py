# Training data of PCNet-C (METHOD 3.2): the instance view of a modal
# dataset with surrogate occlusion always in case 1 (eraser in front; hole =
# eraser ∩ target), the RGB crop loaded with the masks' geometry (bicubic,
# 256 x 256) and packed for PCNetC. The dataset configs set ann_file,
# data_format and data_prefix.img.
_base_ = ['./pcnet_m_instances.py']
crop_size = 256
train_dataloader = dict(
    batch_size=16,  # per GPU; the reference used 16 x 8 GPUs = 128
    num_workers=4,
    dataset=dict(
        pipeline=[
            dict(
                type='SurrogateOcclusion',
                size=crop_size,
                enlarge_box=3.0,
                min_side_ratio=1.1,
                eraser_front_prob=1.0,  # PCNet-C: always case 1
                on_failure='resample'),
            dict(type='LoadPCNetCImageCrop', interpolation='bicubic'),
            dict(type='PackPCNetCInputs'),
        ]))
