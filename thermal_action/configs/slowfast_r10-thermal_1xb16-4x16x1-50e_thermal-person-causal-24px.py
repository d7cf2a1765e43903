# Causal person-24px: the demo's model and clips, but each clip ends at its keyframe
# (16 frames, every 4th, up to and including it), so the model labels the newest frame's
# action and a live stream dates an action at the frame it read instead of half a window
# (3.2 s at 10 fps) earlier: the fall alert's latency. Train it on the demo's data:
#   thermal-action train person-causal --data-root work_dirs/demo/data --epochs 24 \
#       --work-dir work_dirs/causal-sim
_base_ = ['./slowfast_r10-thermal_1xb16-4x16x1-50e_thermal-person-24px.py']

causal = dict(keyframe_anchor='end')
train_dataloader = dict(dataset=causal)
val_dataloader = dict(dataset=causal)
test_dataloader = dict(dataset=causal)
