"""Measure the forward cost of the shipped recipes side by side, in one process.

Prints, per config: parameters, GFLOPs, forward wall and CPU time per clip (batch 1), and
training-step time per clip (batch 8); then the cost ratio of the GPU recipe to the
thermal-native one, of the whole-frame to the person-centred thermal-native one, and the
projected time of a full training run on the real train split.
With ``--train DATA_ROOT`` it also runs that full training and prints the measured time.

    python benchmarks/model_cost.py [--threads 2] [--repeats 5] [--train DATA_ROOT]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from mmaction.registry import MODELS
from mmengine.analysis import get_model_complexity_info
from mmengine.registry import init_default_scope

import thermal_action  # noqa: F401
from thermal_action.engine import load_config, train

GPU_RECIPE = "slowfast_r50_1xb8-4x16x1-50e_thermal-256px"
NATIVE = "slowfast_r18-thermal_1xb8-4x16x1-50e_thermal-40x60"
PERSON = "slowfast_r10-thermal_1xb16-4x16x1-50e_thermal-person-24px"
PERSON_LITE = "slowfast_r10-thermal_1xb16-2x32x1-50e_thermal-person-lite-24px"
REAL_TRAIN_CLIPS = 314


def input_shape(cfg) -> tuple[int, int, int, int]:
    """(C, T, H, W) of one clip as the config's val pipeline produces it."""
    pipeline = cfg.val_dataloader.dataset.pipeline
    load = next(step for step in pipeline if step["type"] == "LoadThermalWindow")
    channels = next(step for step in pipeline if step["type"] == "ThermalToChannels")
    resize = next((step for step in pipeline if step["type"] == "Resize"), None)
    crop = next((step for step in pipeline if step["type"] == "CropAroundPerson"), None)
    height, width = resize["scale"][::-1] if resize else (cfg.sensor_height, cfg.sensor_width)
    if crop:
        height, width = crop["size_px"]
    return channels["num_channels"], load["clip_len"], height, width


def measure(name: str, repeats: int) -> dict:
    cfg = load_config(name)
    init_default_scope("mmaction")
    model = MODELS.build(cfg.model)
    shape = input_shape(cfg)
    clip = torch.randn(1, 1, *shape)

    def forward(batch):
        return model.cls_head(model.extract_feat(batch)[0])

    model.eval()
    with torch.no_grad():
        flops = get_model_complexity_info(
            model.backbone, inputs=(clip[:, 0],), show_table=False, show_arch=False
        )["flops"]
        forward(clip)
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(repeats):
            forward(clip)
        wall, cpu = (time.perf_counter() - wall) / repeats, (time.process_time() - cpu) / repeats

    model.train()
    batch = torch.randn(8, 1, *shape)
    labels = torch.randint(0, 14, (8,))
    train_repeats = max(1, repeats // 2)
    forward(batch[:2])
    start = time.perf_counter()
    for _ in range(train_repeats):
        model.zero_grad()
        torch.nn.functional.cross_entropy(forward(batch), labels).backward()
    train_per_clip = (time.perf_counter() - start) / train_repeats / len(batch)
    return dict(
        name=name,
        shape=shape,
        params_m=sum(p.numel() for p in model.parameters()) / 1e6,
        gflops=flops / 1e9,
        wall_ms=wall * 1e3,
        cpu_ms=cpu * 1e3,
        train_ms=train_per_clip * 1e3,
        epochs=cfg.train_cfg.max_epochs,
    )


def onnx_batch_ms(name: str, batch: int, repeats: int, threads: int) -> float:
    """Median ms of onnxruntime running the config's exported model (untrained weights) on
    a batch of ``batch`` clips."""
    from thermal_action.engine.export import export_onnx
    from thermal_action.inference.loading import OnnxModel

    cfg = load_config(name)
    with tempfile.TemporaryDirectory() as folder:
        init_default_scope("mmaction")
        checkpoint = f"{folder}/model.pth"
        torch.save({"state_dict": MODELS.build(cfg.model).state_dict()}, checkpoint)
        model = OnnxModel(export_onnx(name, checkpoint, f"{folder}/model.onnx"), threads)
        clips = torch.randn(batch, *input_shape(cfg)).numpy()
        for _ in range(10):
            model.run(clips)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.run(clips)
            times.append((time.perf_counter() - start) * 1e3)
    return float(sorted(times)[len(times) // 2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--train",
        metavar="DATA_ROOT",
        help="also run the thermal-native full training on this dataset",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, {args.repeats} repeats")
    rows = [measure(name, args.repeats) for name in (GPU_RECIPE, NATIVE, PERSON, PERSON_LITE)]
    print(
        f"{'config':<52} {'input CxTxHxW':<16} {'params M':>9} {'GFLOPs':>8} "
        f"{'fwd wall ms':>12} {'fwd CPU ms':>11} {'train ms/clip':>14}"
    )
    for row in rows:
        shape = "x".join(str(n) for n in row["shape"])
        print(
            f"{row['name']:<52} {shape:<16} {row['params_m']:>9.2f} {row['gflops']:>8.2f} "
            f"{row['wall_ms']:>12.1f} {row['cpu_ms']:>11.1f} {row['train_ms']:>14.1f}"
        )
    gpu, native, person, lite = rows
    ratio = gpu["cpu_ms"] / native["cpu_ms"]
    print(f"forward CPU time ratio (GPU recipe / thermal-native): {ratio:.1f}x")
    print(
        f"person-centred vs whole-frame thermal-native, per clip: forward CPU "
        f"{native['cpu_ms'] / person['cpu_ms']:.1f}x, train step "
        f"{native['train_ms'] / person['train_ms']:.1f}x less"
    )
    onnx = {name: onnx_batch_ms(name, batch=3, repeats=20 * args.repeats, threads=args.threads)
            for name in (PERSON, PERSON_LITE)}
    print(
        f"person-lite vs person-24px: {person['gflops'] / lite['gflops']:.1f}x fewer GFLOPs; "
        f"onnxruntime, a batch of 3 people: {onnx[PERSON]:.2f} ms vs {onnx[PERSON_LITE]:.2f} "
        f"ms ({1 - onnx[PERSON_LITE] / onnx[PERSON]:.0%} less)"
    )
    print(
        f"forward wall time ratio: {gpu['wall_ms'] / native['wall_ms']:.1f}x; "
        f"GFLOPs ratio: {gpu['gflops'] / native['gflops']:.1f}x"
    )
    projected = native["train_ms"] * REAL_TRAIN_CLIPS * native["epochs"] / 1e3 / 60
    print(
        f"projected thermal-native training, {native['epochs']} epochs x {REAL_TRAIN_CLIPS} "
        f"clips (compute only): {projected:.1f} min"
    )
    if args.train:
        with tempfile.TemporaryDirectory() as work_dir:
            start = time.perf_counter()
            result = train(NATIVE, data_root=args.train, work_dir=work_dir)
            minutes = (time.perf_counter() - start) / 60
        print(
            f"measured thermal-native full training on {args.train}: {minutes:.1f} min; "
            f"final val {result.val_metrics}"
        )


if __name__ == "__main__":
    main()
