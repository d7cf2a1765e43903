"""Trained models at inference time: loading a config + checkpoint (PyTorch or ONNX),
the clip classifier over windows of frames, and what it predicts."""
