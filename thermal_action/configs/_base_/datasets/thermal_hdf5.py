# Thermal HDF5 + COCO keyframe data. The sensor geometry and the clip timing live here
# and nowhere else: thermal_action.data.sensor reads them for the library and the tools.
sensor_height = 40  # pixels
sensor_width = 60  # pixels
clip_len = 32  # frames per clip (fast pathway)
frame_interval = 2  # every 2nd frame of the seed's 64-frame window around the keyframe

dataset_type = 'ThermalActionDataset'
# Override with --data-root, or THERMAL_ACTION_DATA_ROOT under MMAction2's own tools.
data_root = '{{$THERMAL_ACTION_DATA_ROOT:data/thermal_action_dataset}}'
hdf5_root = 'frames'
ann_file_train = 'annotations/train.json'
ann_file_val = 'annotations/val.json'
ann_file_test = 'annotations/val.json'
label_rule = 'safety'  # a fall-related person label decides the clip label
frame_shape = (sensor_height, sensor_width)  # recordings of another geometry are refused

load_window = dict(type='LoadThermalWindow', clip_len=clip_len, frame_interval=frame_interval)
repair_pixels = dict(type='RepairInvalidPixels')
jitter_temperature = dict(type='TemperatureJitter', max_offset_c=1.5, gain_range=(0.9, 1.1), prob=0.8)
normalize_temperature = dict(type='NormalizeTemperature', mode='fixed', mean_c=15.0, std_c=10.0)
random_flip = dict(type='RandomThermalFlip', horizontal_prob=0.5, vertical_prob=0.5)
random_affine = dict(type='RandomThermalAffine', max_shift_px=3.0, scale_range=(0.9, 1.1), prob=0.5)
to_channels = dict(type='ThermalToChannels', num_channels=1)
format_shape = dict(type='FormatShape', input_format='NCTHW')
pack_inputs = dict(
    type='PackActionInputs',
    meta_keys=('img_shape', 'sensor_id', 'frame_idx', 'timestamp', 'image_id', 'window_padded'))

train_pipeline = [
    load_window, repair_pixels, jitter_temperature, normalize_temperature, random_flip,
    random_affine, to_channels, format_shape, pack_inputs
]
val_pipeline = [load_window, repair_pixels, normalize_temperature, to_channels, format_shape, pack_inputs]
test_pipeline = val_pipeline

train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    # Square-root class balancing: 'lying with risk' outnumbers most classes 20:1.
    sampler=dict(type='ClassBalancedSampler', power=0.5),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=ann_file_train,
        hdf5_root=hdf5_root,
        label_rule=label_rule,
        frame_shape=frame_shape,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=ann_file_val,
        hdf5_root=hdf5_root,
        label_rule=label_rule,
        frame_shape=frame_shape,
        pipeline=val_pipeline,
        test_mode=True))
test_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=ann_file_test,
        hdf5_root=hdf5_root,
        label_rule=label_rule,
        frame_shape=frame_shape,
        pipeline=test_pipeline,
        test_mode=True))

val_evaluator = dict(type='ClipAccuracyMetric', topk=(1, 5))
test_evaluator = val_evaluator
