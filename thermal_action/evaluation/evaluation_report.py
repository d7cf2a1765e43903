"""An evaluation's summary (``engine.evaluate.summarize``) as files people read:
``report.md`` (tables), ``report.json`` (everything) and ``confusion_matrix.png`` (summed
over folds and seeds)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from thermal_action.compat import write_text_atomic
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.evaluation.report import plot_confusion_matrix

SCORE_NAMES = {
    "top1": "top-1 accuracy",
    "mean_class_present": "mean-class accuracy (mean recall over the classes present)",
    "mean_class_mmaction": "mean-class accuracy, MMAction2's definition (classes only "
                           "predicted count as 0)",
    "macro_f1": "macro-F1 (classes true or predicted)",
}
FALL_NAMES = {
    "recall": "fall-related recall (arg-max)",
    "precision": "fall-related precision (arg-max)",
    "false_alarms_per_hour": "false fall calls per hour of recording (arg-max)",
    "threshold": "fall-probability threshold for 95% fall recall",
    "precision_at_threshold": "precision at that threshold",
    "false_alarms_per_hour_at_threshold": "false fall calls per hour at that threshold",
}


UNITS = {"person": "annotated people (one sample per person box)",
         "keyframe": "keyframe clips (whole frame)"}


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_stat(stat: dict[str, Any], digits: int = 3) -> str:
    """A ``summarize`` statistic as mean ± std, or "-" when undefined."""
    if stat["mean"] is None:
        return "-"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def report_markdown(summary: dict[str, Any], title: str = "") -> str:
    """The summary as Markdown: scores, fall safety, per-class table, runs."""
    runs = summary["runs"]
    selection = summary.get("selection")
    lines = [
        f"# {title or 'Evaluation'}",
        "",
        *(_selection_header(summary) if selection else _recipe_header(summary)),
        f"- scored: {UNITS.get(summary['sample_unit'], summary['sample_unit'])}, "
        + ("every fold held out (no test window shares a frame with a training window)"
           if summary["held_out"] else "NOT HELD OUT: " + "; ".join(summary["overlap_lines"])),
        "",
        *(_selection_section(selection) if selection else []),
        "## Scores (mean ± standard deviation over folds and seeds)",
        "",
        "| measure | value |",
        "|---|---|",
        *[f"| {name} | {format_stat(summary['scores'][key])} |"
          for key, name in SCORE_NAMES.items()],
        "",
        "## Fall safety (fall-related classes against the rest)",
        "",
        "A fall call is a scored sample whose arg-max class (or fall probability, at the "
        "threshold) is fall-related; per hour: false calls over the hours of the held-out "
        "recordings.",
        "",
        "| measure | value |",
        "|---|---|",
        *[f"| {name} | {format_stat(summary['fall'][key], 2 if 'hour' in key else 3)} |"
          for key, name in FALL_NAMES.items()],
        "",
        "## Per class (support: people of one seed's test folds)",
        "",
        "| class | support | precision | recall | F1 |",
        "|---|---|---|---|---|",
    ]
    for name, row in summary["per_class"].items():
        if row["support"] or row["precision"]["runs"]:
            lines.append(f"| {name} | {row['support']} | {format_stat(row['precision'], 2)} | "
                         f"{format_stat(row['recall'], 2)} | {format_stat(row['f1'], 2)} |")
    lines += [
        "",
        "## Runs",
        "",
        "| fold | seed | held-out recordings | scored | top-1 | mean-class (present) | "
        "mean-class (MMAction2) | macro-F1 | fall recall | fall precision |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        scores, fall = run["scores"], run["fall"]
        fold = f"{run['fold']} ({run.get('candidate')})" if selection else run["fold"]
        lines.append(
            f"| {fold} | {run['seed']} | {', '.join(run['held_out'])} | "
            f"{run['samples']} | {_number(scores['top1'])} | "
            f"{_number(scores['mean_class_present'])} | {_number(scores['mean_class_mmaction'])} "
            f"| {_number(scores['macro_f1'])} | {_number(fall['recall'], 2)} | "
            f"{_number(fall['precision'], 2)} |")
    lines += ["", "![confusion matrix summed over folds and seeds](confusion_matrix.png)", ""]
    return "\n".join(lines)


def _recipe_header(summary: dict[str, Any]) -> list[str]:
    folds = sorted({run["fold"] for run in summary["runs"]})
    return [
        f"- config: `{Path(summary['config']).name}`",
        f"- data: `{summary['data_root']}`, protocol `{summary['protocol']}`: "
        f"{len(folds)} folds ({', '.join(folds)}) x {summary['seeds']} seeds, "
        + (f"{summary['epochs']} epochs, the last checkpoint of each run tested"
           if summary["epochs"] else "zero-shot: the pretrained checkpoint tested on every "
           "fold, no training"),
        f"- wall time of the runs: {summary.get('wall_minutes', 0):.1f} min (runs reused from "
        "an earlier call count their first time)",
        f"- pretrained: `{summary['pretrained']}`"
        + (" (its classification head kept)" if summary.get("keep_head") else "")
        if summary.get("pretrained")
        else "- pretrained: none (from scratch)",
    ]


def candidate_line(candidate: dict[str, Any]) -> str:
    """A candidate of a selection's settings in words."""
    start = f", from {candidate['pretrained']}" + (" (head kept)" if candidate["keep_head"]
                                                   else "") if candidate["pretrained"] else ""
    options = "".join(f", {key}={value}" for key, value in candidate["cfg_options"].items())
    return (f"{candidate['name']}: {candidate['config']}, {candidate['epochs']} epochs"
            f"{start}{options}")


def _selection_header(summary: dict[str, Any]) -> list[str]:
    selection = summary["selection"]
    folds = [fold["fold"] for fold in selection["folds"]]
    return [
        "- candidates: " + "; ".join(f"`{candidate_line(c)}`" for c in selection["candidates"]),
        f"- data: `{summary['data_root']}`, protocol `{summary['protocol']}`: {len(folds)} "
        f"folds ({', '.join(folds)}) x {summary['seeds']} seeds of the candidate chosen for "
        "each fold, the last checkpoint of each run tested",
        f"- {selection['how']} ({'higher' if selection['higher_is_better'] else 'lower'} is "
        f"better; {selection['inner_seeds']} seeds per inner run)",
        f"- wall time of the runs: {selection['wall_minutes']:.1f} min choosing, "
        f"{summary.get('wall_minutes', 0):.1f} min on the held-out folds (runs reused from an "
        "earlier call count their first time)",
    ]


def _selection_section(selection: dict[str, Any]) -> list[str]:
    """Per outer fold: the inner table, the choice and its held-out scores."""
    lines = ["## Selection per fold", ""]
    for fold in selection["folds"]:
        inner = fold["inner_folds"]
        lines += [f"### {fold['fold']} (held out: {', '.join(fold['held_out'])})", "",
                  f"`{selection['criterion']}` of each candidate on each inner held-out "
                  "recording (mean over inner seeds):", "",
                  f"| candidate | {' | '.join(inner)} | mean |",
                  "|---" * (len(inner) + 2) + "|"]
        for name, row in fold["table"].items():
            shown = f"**{name}** (chosen)" if name == fold["chosen"] else name
            lines.append(f"| {shown} | {' | '.join(_number(row.get(i)) for i in inner)} | "
                         f"{_number(fold['means'][name])} |")
        lines += ["", f"Chosen: `{fold['chosen']}`; on the held-out {fold['fold']}: "
                  f"mean-class {format_stat(fold['scores']['mean_class_present'])}, top-1 "
                  f"{format_stat(fold['scores']['top1'])}, fall recall "
                  f"{format_stat(fold['fall']['recall'])}.", ""]
    return lines


def write_report(summary: dict[str, Any], out_dir: str | os.PathLike,
                 title: str = "") -> dict[str, Path]:
    """Write ``report.md``, ``report.json`` and ``confusion_matrix.png`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scores = summary["scores"]
    png = plot_confusion_matrix(
        np.asarray(summary["confusion_matrix"]), CLASS_NAMES, out / "confusion_matrix.png",
        title=f"{summary['protocol']}, {len(summary['runs'])} runs: mean-class "
              f"{_number(scores['mean_class_present']['mean'], 2)}, top-1 "
              f"{_number(scores['top1']['mean'], 2)}")
    paths = dict(markdown=out / "report.md", json=out / "report.json", confusion_png=png)
    write_text_atomic(paths["markdown"], report_markdown(summary, title))
    write_text_atomic(paths["json"], json.dumps(summary, indent=2) + "\n")
    return paths
