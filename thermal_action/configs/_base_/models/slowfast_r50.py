# SlowFast R50 4x16 as in MMAction2's Kinetics-400 recipe (3-channel stem, so Kinetics
# weights load unchanged); only the head is sized for the 14 thermal classes.
model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='ResNet3dSlowFast',
        pretrained=None,
        resample_rate=8,  # slow pathway sees every 8th of the 32 clip frames
        speed_ratio=8,
        channel_ratio=8,
        slow_pathway=dict(
            type='resnet3d', depth=50, pretrained=None, lateral=True,
            conv1_kernel=(1, 7, 7), dilations=(1, 1, 1, 1), conv1_stride_t=1, pool1_stride_t=1,
            inflate=(0, 0, 1, 1), norm_eval=False),
        fast_pathway=dict(
            type='resnet3d', depth=50, pretrained=None, lateral=False, base_channels=8,
            conv1_kernel=(5, 7, 7), conv1_stride_t=1, pool1_stride_t=1, norm_eval=False)),
    cls_head=dict(
        type='SlowFastHead',
        in_channels=2304,  # 2048 slow + 256 fast
        num_classes=14,
        spatial_type='avg',
        dropout_ratio=0.5,
        average_clips='prob'),
    data_preprocessor=dict(type='ActionDataPreprocessor', format_shape='NCTHW'))
