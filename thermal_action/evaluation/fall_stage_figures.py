"""The fall stage's decisions as a picture: fall-episode recall against false alerts per
hour for each threshold and run length, on out-of-fold probabilities."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def plot_decisions(scores: Sequence, chosen, path: str | os.PathLike,
                   max_false_per_hour: float) -> Path:
    """One line per ``confirm`` over the thresholds; the chosen decision circled and the
    false-alert limit dashed. ``scores``: ``fall_stage.DecisionScore`` rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    figure, axis = plt.subplots(figsize=(6, 4), dpi=120)
    for confirm in sorted({s.confirm for s in scores}):
        rows = sorted((s for s in scores if s.confirm == confirm), key=lambda s: s.threshold)
        axis.plot([s.false_per_hour for s in rows], [np.nan_to_num(s.recall) for s in rows],
                  marker="o", label=f"{confirm} in a row")
        for s in rows:
            axis.annotate(f"{s.threshold:g}", (s.false_per_hour, np.nan_to_num(s.recall)),
                          fontsize=6, xytext=(2, 2), textcoords="offset points")
    axis.scatter([chosen.false_per_hour], [np.nan_to_num(chosen.recall)], s=160,
                 facecolors="none", edgecolors="black", label="chosen")
    axis.axvline(max_false_per_hour, color="grey", linestyle="--", linewidth=1,
                 label=f"{max_false_per_hour:g} false alerts / h")
    axis.set_xlabel("false alerts per hour (out of fold)")
    axis.set_ylabel("fall episodes alerted")
    axis.set_ylim(0, 1.05)
    axis.legend(fontsize=7)
    axis.set_title("fall stage: threshold and classifications in a row", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
