# Thermal-native SlowFast: single-channel input at the sensor's 40x60, ResNet-18 blocks,
# half-width slow pathway. Stem stride 2 + pool stride 2 -> 10x15 at res2, 5x8 at res3,
# 3x4 at res4 and res5 (no last-stage stride), the same relative grid as 224 px -> 7x7.
# The head pools adaptively, so other sensor sizes work too.
slow_channels = 32
channel_ratio = 8
model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='ResNet3dSlowFast',
        pretrained=None,
        resample_rate=8,
        speed_ratio=8,
        channel_ratio=channel_ratio,
        slow_pathway=dict(
            type='resnet3d', depth=18, pretrained=None, lateral=True, in_channels=1,
            base_channels=slow_channels, conv1_kernel=(1, 3, 3), conv1_stride_s=2,
            pool1_stride_s=2, conv1_stride_t=1, pool1_stride_t=1, inflate=(0, 0, 1, 1),
            spatial_strides=(1, 2, 2, 1), norm_eval=False),
        fast_pathway=dict(
            type='resnet3d', depth=18, pretrained=None, lateral=False, in_channels=1,
            base_channels=slow_channels // channel_ratio, conv1_kernel=(5, 3, 3),
            conv1_stride_s=2, pool1_stride_s=2, conv1_stride_t=1, pool1_stride_t=1,
            spatial_strides=(1, 2, 2, 1), norm_eval=False)),
    cls_head=dict(
        type='SlowFastHead',
        in_channels=slow_channels * 8 + slow_channels * 8 // channel_ratio,  # 256 + 32
        num_classes=14,
        spatial_type='avg',
        dropout_ratio=0.5,
        average_clips='prob'),
    data_preprocessor=dict(type='ActionDataPreprocessor', format_shape='NCTHW'))
