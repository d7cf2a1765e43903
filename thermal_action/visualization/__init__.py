"""Pictures of thermal frames and of what a stream saw: frame drawing, action videos and
timeline PNGs (matplotlib and imageio, loaded when this package is used)."""
