"""Figures of a run, drawn with matplotlib's Agg backend (no display needed).

    confusion_figure   OUT/confusion.png: the row-normalised confusion matrix of an evaluation
    training_curves    the losses, train top-1 and lr of OUT/metrics.jsonl (format: ``training``)
    image_grid         rows of RGB images with labels: the CAM grids and pose overlays that
                       figures.py draws (frames across, models or videos down)
    block_accuracy_figure  Luvizon et al.'s Figure 8: top-1 of every action prediction block of
                       the pose and appearance streams and of the aggregation, per run
    class_accuracy_figure  their Figure 9: per-class top-1 of the pose stream, the appearance
                       stream and the aggregation (results.json's per_class)

Each figure is a ``matplotlib.figure.Figure`` on its own Agg canvas, never a pyplot figure: pyplot
would keep every figure in a global registry until closed, and choosing its backend here
(``matplotlib.use``) would switch the backend of whatever session imports this module. A figure
is written whole or not at all (a temporary in the same folder, then ``os.replace``).
"""
import io
import json
import math

import matplotlib.cm
import matplotlib.colors
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from common.files import atomic_write_bytes


def row_normalise(matrix):
    """(n, n) counts -> each row divided by its sum, the share of the true class; a class with
    no test sample keeps a row of zeros."""
    m = np.asarray(matrix, dtype=np.float64)
    sums = m.sum(axis=1, keepdims=True)
    return np.divide(m, sums, out=np.zeros_like(m), where=sums > 0)


def confusion_figure(matrix, classes, path, title=None):
    """Row-normalised confusion matrix ``matrix[true, predicted]`` (counts) as a PNG at ``path``:
    true classes down, predictions across, the non-zero counts in their cells."""
    matrix = np.asarray(matrix)
    n = len(classes)
    if matrix.shape != (n, n):
        raise ValueError(f"a confusion matrix of {n} classes is ({n}, {n}), not {matrix.shape}")
    share = row_normalise(matrix)
    cell = 0.5 if n <= 20 else 0.3  # inches; the margins hold class names up to ~45 characters
    fig = new_figure((n * cell + 4.5, n * cell + 3.5))
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label="share of the true class")
    size = 8 if n <= 20 else 7
    for i, j in zip(*np.nonzero(matrix)):
        ax.text(j, i, f"{matrix[i, j]:g}", ha="center", va="center", fontsize=size,
                color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(n), classes, rotation=90, fontsize=size + 1)
    ax.set_yticks(range(n), classes, fontsize=size + 1)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if title:
        ax.set_title(title)
    save_figure(fig, path)


def read_metrics(path):
    """OUT/metrics.jsonl -> its records. A torn last line (a run killed mid-write) is dropped;
    any other line that is not a JSON object is a ValueError naming the file and line."""
    with open(path) as f:
        lines = [(i, line) for i, line in enumerate(f, 1) if line.strip()]
    records = []
    for k, (i, line) in enumerate(lines):
        try:
            record = json.loads(line)
        except ValueError:
            if k == len(lines) - 1:
                break
            raise ValueError(f"{path}: line {i} is not JSON") from None
        if not isinstance(record, dict):
            raise ValueError(f"{path}: line {i} is not a JSON object")
        records.append(record)
    return records


def curves(records, steps_per_epoch=None):
    """metrics.jsonl records -> {name: (x, y)}, x in epochs of training done when the value was
    logged: epoch line e is at e + 1, step line s at s / steps_per_epoch.

    Names: every "loss_*" and "*_top1" key and "lr" of the epoch lines, each over the epochs that
    have it, and "loss", the step lines' batch loss (if there are step lines). Without
    ``steps_per_epoch`` it is estimated from the step lines as the least count consistent with
    them (step s of epoch e has s <= (e + 1) * steps_per_epoch): exact when one logged step
    ended an epoch."""
    series = {}
    for r in records:
        if r.get("kind") == "epoch":
            for key, value in r.items():
                if key == "lr" or key.startswith("loss_") or key.endswith("_top1"):
                    xs, ys = series.setdefault(key, ([], []))
                    xs.append(r["epoch"] + 1.0)
                    ys.append(float(value))
    steps = [r for r in records if r.get("kind") == "step"]
    if steps:
        per_epoch = steps_per_epoch or max(math.ceil(r["step"] / (r["epoch"] + 1)) for r in steps)
        series["loss"] = ([r["step"] / per_epoch for r in steps],
                          [float(r["loss"]) for r in steps])
    return series


def training_curves(metrics_path, path, steps_per_epoch=None):
    """A PNG at ``path`` of the run logged in ``metrics_path``: the losses, the train accuracy
    (if logged) and the lr (log scale) against epochs (see ``curves``)."""
    records = read_metrics(metrics_path)
    if not any(r.get("kind") == "epoch" for r in records):
        raise ValueError(f"{metrics_path}: no epoch record, so no finished epoch to plot")
    series = curves(records, steps_per_epoch)
    losses = sorted(k for k in series if k.startswith("loss_"))
    top1 = sorted(k for k in series if k.endswith("_top1"))
    panels = 2 + bool(top1)
    fig = new_figure((8, 2.8 * panels))
    axes = fig.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    ax = axes[0]
    if "loss" in series:
        ax.plot(*series["loss"], color="0.6", linewidth=0.7, label="loss (batch, weighted sum)")
    for key in losses:
        ax.plot(*series[key], marker="o", markersize=4, label=key)
    shown = [y for key in losses + ["loss"] for y in series.get(key, ((), ()))[1]]
    if all(y > 0 for y in shown):
        ax.set_yscale("log")  # the heatmap and offset losses are orders below the action losses
    ax.set_ylabel("loss")
    if top1:
        for key in top1:
            axes[1].plot(*series[key], marker="o", markersize=4, label=key)
        axes[1].set_ylim(0, 1)
        axes[1].set_ylabel("train top-1")
    if "lr" in series:
        axes[-1].plot(*series["lr"], marker="o", markersize=4, drawstyle="steps-pre", color="C3")
        axes[-1].set_yscale("log")
    axes[-1].set_ylabel("lr")
    axes[-1].set_xlabel("epoch")
    axes[-1].set_xlim(left=0)
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    save_figure(fig, path)


def image_grid(rows, path, title=None, column_titles=None, colour_scale=None, cell=1.6,
               caption=None):
    """A PNG at ``path`` of images in a grid: ``rows`` is a list of (label, images), each images
    a list (or (n, H, W, 3) array) of RGB uint8 arrays; a shorter row leaves its last cells
    empty. ``column_titles`` head the columns; ``colour_scale`` = (colormap name, label) adds a
    colour bar from 0 to 1 (the CAM grids' scale); ``caption``: text under the grid (lines in
    a fixed-width font). ``cell``: inches per image."""
    if not rows or not any(len(images) for _, images in rows):
        raise ValueError(f"{path}: no image to draw")
    n_cols = max(len(images) for _, images in rows)
    aspect = max(im.shape[0] / im.shape[1] for _, images in rows for im in images)
    caption_lines = caption.count("\n") + 1 if caption else 0
    fig = new_figure((n_cols * cell + 1.8 + (0.9 if colour_scale else 0),
                   len(rows) * cell * aspect + (0.9 if title else 0.4) + 0.17 * caption_lines))
    axes = fig.subplots(len(rows), n_cols, squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(images):
                ax.imshow(images[c], interpolation="nearest")
            else:
                ax.axis("off")
            if r == 0 and column_titles and c < len(column_titles):
                ax.set_title(column_titles[c], fontsize=8)
        axes[r, 0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center",
                              labelpad=4)
    if colour_scale:
        cmap, label = colour_scale
        mappable = matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(0, 1), cmap)
        fig.colorbar(mappable, ax=axes, fraction=0.02, pad=0.01, label=label)
    if title:
        fig.suptitle(title, fontsize=10)
    if caption:
        fig.supxlabel(caption, fontsize=8, fontfamily="monospace", multialignment="left")
    save_figure(fig, path)


STREAM_COLOURS = {"pose": "tab:blue", "appearance": "tab:orange", "aggregation": "tab:green"}


def block_accuracy_figure(runs, path, title=None):
    """Figure 8: ``runs`` [(label, results)] (a multitask results.json each, e.g. separate and
    fine-tuned) -> per run, the top-1 % of each action block of the pose and appearance streams
    (``top1_blocks``) as lines over the blocks, and the aggregation's as a point after them."""
    fig = new_figure((6.4, 4.0))
    ax = fig.add_subplot()
    styles = ["-", "--", ":", "-."]
    for r, (label, results) in enumerate(runs):
        blocks = results["top1_blocks"]
        count = len(blocks["pose"])
        for stream in ("pose", "appearance"):
            ax.plot(range(1, count + 1), [100 * v for v in blocks[stream]], styles[r % 4],
                    marker="o", color=STREAM_COLOURS[stream], label=f"{stream}, {label}")
        ax.plot([count + 1], [100 * results["top1"]["aggregation"]], marker="s^vD"[r % 4],
                linestyle="none", color=STREAM_COLOURS["aggregation"],
                label=f"aggregation, {label}")
    count = max(len(results["top1_blocks"]["pose"]) for _, results in runs)
    ax.set_xticks(range(1, count + 2), [str(b) for b in range(1, count + 1)] + ["agg."])
    ax.set_xlabel("action prediction block")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title)
    save_figure(fig, path)


def class_accuracy_figure(results, path, title=None):
    """Figure 9: per-class top-1 % of the pose stream, the appearance stream and the aggregation
    (``results["per_class"][stream][class]``, None where a class has no test video) as grouped
    bars, one group a class."""
    per_class = results["per_class"]
    classes = list(per_class["aggregation"])
    fig = new_figure((max(6.4, 0.45 * len(classes) + 2.0), 4.2))
    ax = fig.add_subplot()
    width = 0.27
    for s, stream in enumerate(("pose", "appearance", "aggregation")):
        values = [100 * v if v is not None else 0.0 for v in
                  (per_class[stream][c] for c in classes)]
        ax.bar(np.arange(len(classes)) + (s - 1) * width, values, width,
               color=STREAM_COLOURS[stream], label=stream)
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=8)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    save_figure(fig, path)


def new_figure(size):
    """A Figure of ``size`` inches on its own Agg canvas (no pyplot)."""
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path):
    """Render ``fig`` to PNG, then write it whole or not at all (data.index's atomic writer)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    fig.clear()  # breaks the figure's reference cycles now, not at the next garbage collection
    atomic_write_bytes(path, buffer.getvalue())
