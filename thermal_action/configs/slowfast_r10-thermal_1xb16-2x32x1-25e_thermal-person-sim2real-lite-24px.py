# The sim-to-real recipe with the edge model's clip: 16 frames, every 4th of the 64
# around the keyframe (person-lite). Fine-tune from a person-lite model trained on
# simulated recordings:
#   thermal-action train person-lite --data-root work_dirs/demo/data --epochs 24 \
#       --work-dir work_dirs/lite-sim
#   thermal-action train sim2real-lite --data-root DATA \
#       --pretrained work_dirs/lite-sim/epoch_24.pth --keep-head
_base_ = ['./slowfast_r10-thermal_1xb16-4x16x1-25e_thermal-person-sim2real-24px.py']

clip_len = 16
frame_interval = 4
load_window = dict(type='LoadThermalWindow', clip_len=clip_len, frame_interval=frame_interval)
# functional.dense_window_len(16, 4, 8, 1.25) = 98 frames, as for the 32-frame clips.
temporal_crop = dict(type='RandomTemporalCrop', clip_len=clip_len,
                     frame_interval=frame_interval,
                     max_shift_frames={{_base_.max_shift_frames}},
                     speed_range={{_base_.speed_range}}, prob=0.8)
train_pipeline = [
    {{_base_.dense_person_clip}}, temporal_crop, {{_base_.random_flip}}, {{_base_.random_shift}},
    {{_base_.to_channels}}, {{_base_.format_shape}}, {{_base_.pack_person}}
]
val_pipeline = [
    load_window, {{_base_.repair_pixels}}, {{_base_.crop_person}},
    {{_base_.normalize_temperature}}, {{_base_.to_channels}}, {{_base_.format_shape}},
    {{_base_.pack_person}}
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=val_pipeline))
