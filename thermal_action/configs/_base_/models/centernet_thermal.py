# A small CenterNet for people on one 40x60 thermal frame: a stem to 20x30 cells, three
# residual blocks with dilations 1, 2, 4 (a receptive field wider than a lying adult, about
# 20 pixels), and heatmap / size / offset heads. About 0.1 M parameters.
model = dict(
    type='ThermalCenterNet',
    channels=32,
    blocks=(1, 2, 4),
    head=32,
    # Errors of the heatmap inside annotated furniture and objects weigh 4x: they are what
    # a threshold takes for people.
    negative_weight=4.0)
