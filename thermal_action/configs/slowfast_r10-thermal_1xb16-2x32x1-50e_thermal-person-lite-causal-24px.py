# Causal person-lite: the same model and clips as person-lite, but each clip ends at its
# keyframe (16 frames, every 4th, up to and including it), so the model learns to label
# the newest frame's action. A live stream then dates an action at the frame it was read
# at instead of half a window earlier (about 3 s at 10 fps, 5 s at 6 fps): what a fall
# alert's latency needs. Train it on simulated recordings as person-lite:
#   thermal-action train person-lite-causal --data-root work_dirs/demo/data --epochs 24 \
#       --work-dir work_dirs/lite-causal-sim
_base_ = ['./slowfast_r10-thermal_1xb16-2x32x1-50e_thermal-person-lite-24px.py']

causal = dict(keyframe_anchor='end')
train_dataloader = dict(dataset=causal)
val_dataloader = dict(dataset=causal)
test_dataloader = dict(dataset=causal)
