# Frames with person boxes for the person detector: the annotated frames of the split's
# real recordings (people, and furniture/objects as hard negatives) plus every 4th frame
# of a simulated dataset with every person's box. The sensor geometry and the temperature
# normalization come from the action data's base config.
_base_ = ['./thermal_hdf5.py']

load_frame = dict(type='LoadThermalWindow', clip_len=1, frame_interval=1)
pack_frame = dict(type='PackThermalFrame')
train_frame_pipeline = [
    load_frame, {{_base_.repair_pixels}}, {{_base_.jitter_temperature}},
    {{_base_.normalize_temperature}},
    dict(type='RandomThermalFlip', horizontal_prob=0.5, vertical_prob=0.5),
    dict(type='RandomThermalAffine', max_shift_px=3.0, scale_range=(0.9, 1.1), prob=0.5),
    pack_frame
]
test_frame_pipeline = [load_frame, {{_base_.repair_pixels}}, {{_base_.normalize_temperature}},
                       pack_frame]
# Made on first use into the cache and reused while these settings hold.
simulated = dict(cache='work_dirs/person_detection/simulated', every=4, num_recordings=64,
                 frames_per_recording=320, recordings_per_session=2,
                 people_weights=(0.4, 0.4, 0.2), seed=11)
frame_dataset = dict(type='PersonFrameDataset', data_root={{_base_.data_root}},
                     hdf5_root='frames', frame_shape={{_base_.frame_shape}})
train_dataloader = dict(
    _delete_=True, batch_size=32, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(**frame_dataset, ann_file='annotations/train.json', simulated=simulated,
                 pipeline=train_frame_pipeline))
val_dataloader = dict(
    _delete_=True, batch_size=32, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**frame_dataset, ann_file='annotations/val.json',
                 pipeline=test_frame_pipeline, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='PersonDetectionMetric', score_threshold=0.5)
test_evaluator = val_evaluator
