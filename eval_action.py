"""Evaluate a trained Action Machine with the paper's test protocol (Sec. 4.3, "Testing").

    python eval_action.py --config configs/action_machine/nucla/nucla_xview1_kps_pose_r18.yaml \
        [key=value ...]

Each test video gives 10 clips evenly spaced in time x 3 crops (up-left, centre, down-right of the
person box); softmax scores are averaged over the 30 views. Reported: top-1 of the RGB head, the
pose CNN and their fusion (sum of the two averaged softmax outputs), per-class accuracy, and a
confusion matrix. Writes to the config's ``out``: results.json, results.md (a row laid out like
the paper's ablation tables), confusion.png, per_video.jsonl.

With eval.cross_dataset=MAPPING (paper Table 13), a model trained on NTU is tested on another
dataset's test videos of the shared classes (configs/cross_dataset/MAPPING.json): the prediction
is the arg-max over the mapped NTU classes and is right when it maps to the video's class.

Luvizon et al.'s multitask models (model.name softargmax_multitask*) are tested as their paper's
Sec. 4.3 says (``evaluate_multitask``): eval.multitask_clips single (the clip in the middle of the
video) or multi (clips T/2 apart, softmax scores averaged), one crop a clip; reported: top-1 of the
pose stream, the appearance stream (each one's last action block) and the aggregation (paper
Table 5's three columns), in the same files.
"""
import json
import os

from engine.config import add_config_args
from common import cli


def parse_args(argv=None):
    parser = cli.parser(__doc__)
    add_config_args(parser)
    parser.add_argument("--skip-unreadable", action="store_true",
                        help="list an undecodable test video as skipped (with the reason) and "
                             "score the rest; by default it stops the evaluation")
    parser.add_argument("--checkpoint", help="the .params to test (overrides eval.checkpoint; "
                                             "default: the run's last)")
    cli.add_dtype_arg(parser)
    return parser.parse_args(argv)


if __name__ == "__main__":  # --help, a bad flag and the thread count: before MXNet loads
    cli.start(parse_args())

# Below: the imports that load MXNet, after the command line is read above.
import numpy as np

from engine.config import CONFIG_DIR, load_config_or_exit
from common.errors import check_writable, exit_on_error
from common.files import atomic_write_text
from data.loader import UNREADABLE_LABEL, Skippable, make_loader
from common.progress import Progress
from engine import hardware
from engine.checkpoints import checkpoint_or_last
from common.cli import with_dtype
from engine.experiment import (
    dataset_of,
    checked_against_checkpoint,
    clip_dataset,
    contexts,
    is_softargmax,
    setup_logging,
    split_samples,
)
from engine.inference import loaded_model
from engine.multitask import evaluate_multitask, multitask_test_data
from engine.plots import confusion_figure
from engine import int8
from engine.precision import check_dtype
from engine.scoring import check_finite, confusion, head_scores, row_name, video_scores


def load_mapping(name, num_source_classes):
    """configs/cross_dataset/NAME.json: {"classes": {target label: [source labels]}}."""
    path = os.path.join(CONFIG_DIR, "cross_dataset", name + ".json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no class mapping {path}")
    with open(path) as f:
        mapping = {int(k): v for k, v in json.load(f)["classes"].items()}
    for labels in mapping.values():
        if any(not 0 <= l < num_source_classes for l in labels):
            raise ValueError(f"{path}: a source label outside 0..{num_source_classes - 1}")
    return mapping


def markdown_row(results):
    name = row_name(results, results["experiment"])
    cells = [name, f"{100 * results['top1']['rgb']:.1f}"]
    if "pose" in results["top1"]:
        cells.append(f"{100 * results['top1']['pose']:.1f} / {100 * results['top1']['fused']:.1f}")
    else:
        cells.append("-")
    return "| " + " | ".join(cells) + " |"


def pct(value):
    return "-" if value is None else f"{100 * value:.1f}"


def heads_markdown(results):
    """Each head's top-1, top-5 and mean-class accuracy, then its per-class accuracy, in %."""
    heads = list(results["top1"])
    lines = ["| head | top-1 | top-5 | mean class |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {h} | {pct(results['top1'][h])} | {pct(results['top5'].get(h))} | "
              f"{pct(results['mean_class'][h])} |" for h in heads]
    lines += ["", "| class | " + " | ".join(heads) + " |", "| --- |" + " ---: |" * len(heads)]
    for name in results["per_class"][heads[0]]:
        lines.append(f"| {name} | " + " | ".join(pct(results["per_class"][h][name])
                                                 for h in heads) + " |")
    return "\n".join(lines)


def test_data(cfg, skip_unreadable=False):
    """-> (the test set of the config's protocol, restricted to the mapped classes in a
    cross-dataset test, as a dataset of 30-view items; the class mapping or None)."""
    mapping = None
    if cfg["eval"]["cross_dataset"]:
        mapping = load_mapping(cfg["eval"]["cross_dataset"],
                               cfg["model"]["options"]["num_classes"])
    samples = split_samples(cfg, "test")
    if mapping is not None:
        samples = [s for s in samples if s["label"] in mapping]
    data = clip_dataset(cfg, samples, "test", with_poses=False)
    return (Skippable(data) if skip_unreadable else data), mapping


def evaluate(cfg, ctxs, log, ckpt, data, mapping=None):
    """Score ``ckpt`` on ``data`` (``test_data``) -> the results dict (also written to OUT)."""
    ctx = ctxs[0]
    net = loaded_model(cfg, ctx, ckpt, log)
    dataset = dataset_of(cfg)
    samples = getattr(data, "dataset", data).samples
    loader = make_loader(data, 1, workers=cfg["data"]["workers"])
    scores, labels, per_video, skipped = {}, [], [], []
    progress = Progress(len(samples), "test", log, unit="videos")
    for i, (views, label) in enumerate(loader):
        progress.update()
        if int(label.asscalar()) == UNREADABLE_LABEL:
            skipped.append(dict(id=samples[i]["id"], reason=data.reason(i)))
            log.warning("skipped unreadable test video %s: %s", *skipped[-1].values())
            continue
        s = video_scores(net, views[0], ctx, cfg["eval"]["views_per_batch"])
        check_finite(np.stack(list(s.values())), f"scores for test video {samples[i]['id']}")
        if "pose" in s:
            s["fused"] = s["rgb"] + s["pose"]  # Sec. 3: predictions fused by summation
        for head, v in s.items():
            scores.setdefault(head, []).append(v)
        labels.append(int(label.asscalar()))
        per_video.append(dict(id=samples[i]["id"], label=labels[-1],
                              **{h: int(np.argmax(v)) for h, v in s.items()}))
    if not labels:
        raise ValueError(f"none of the {len(samples)} test videos could be read")
    progress.close()
    labels = np.array(labels)
    scores = {h: np.stack(v) for h, v in scores.items()}
    classes = list(dataset.CLASSES)
    restricted = cfg["eval"]["cross_dataset_argmax"] == "restricted"
    heads = {h: head_scores(v, labels, classes, mapping, restricted) for h, v in scores.items()}
    results = dict(experiment=cfg["experiment"], checkpoint=ckpt, dtype=cfg["eval"]["dtype"],
                   machine=hardware.describe(),
                   videos=len(labels),
                   test_videos=len(samples), skipped=skipped,
                   views=cfg["eval"]["num_clips"] * 3,
                   **{key: {h: r[key] for h, r in heads.items() if key in r}
                      for key in ("top1", "top5", "mean_class", "per_class")})
    best = "fused" if "fused" in scores else "rgb"
    if mapping is None:
        pred = scores[best].argmax(axis=1)
        matrix = confusion(pred, labels, len(classes))
        results["confusion"] = matrix.tolist()
        confusion_figure(matrix, classes, os.path.join(cfg["out"], "confusion.png"),
                         title=f"{cfg['experiment']} ({best}): top-1 "
                               f"{100 * results['top1'][best]:.1f}%")
    out = cfg["out"]
    atomic_write_text(os.path.join(out, "results.json"), json.dumps(results, indent=1))
    atomic_write_text(os.path.join(out, "per_video.jsonl"),
                      "".join(json.dumps(r) + "\n" for r in per_video))
    table = "| model | RGB | Pose / Fused |\n| --- | ---: | ---: |\n" + markdown_row(results)
    atomic_write_text(os.path.join(out, "results.md"),
                      table + "\n\n" + heads_markdown(results) + "\n")
    log.info("scored %d of %d test videos: %s", len(labels), len(samples),
             "; ".join(f"{h} top-1 {100 * v:.1f}%" + (f", top-5 {100 * results['top5'][h]:.1f}%"
                                                      if h in results["top5"] else "")
                       + f", mean class {100 * results['mean_class'][h]:.1f}%"
                       for h, v in results["top1"].items()))
    return results


def main(argv=None):
    args = cli.start(parse_args(argv))
    overrides = with_dtype(args.overrides, args.dtype)
    if args.checkpoint:
        overrides.append(f"eval.checkpoint={args.checkpoint}")
    cfg = load_config_or_exit(args.config, overrides)
    return run(cfg, contexts(args.gpus, args.cpus), args.skip_unreadable)


def run(cfg, ctxs, skip_unreadable=False):
    """Check the checkpoint against the config and the inputs, then evaluate (one-line errors)."""
    with exit_on_error():
        check_dtype(cfg["eval"]["dtype"], ctxs[0], calibrates=True)
        if cfg["eval"]["dtype"] == "int8":
            int8.check_model(cfg["model"]["name"])
        ckpt = checkpoint_or_last(cfg["out"], cfg["eval"]["checkpoint"])
        cfg = checked_against_checkpoint(cfg, ckpt)
        if is_softargmax(cfg):
            data, mapping = multitask_test_data(cfg, skip_unreadable), None
        else:
            data, mapping = test_data(cfg, skip_unreadable)  # index, splits, boxes: first
        check_writable(cfg["out"])
        log = setup_logging(cfg["out"], "eval")
    with exit_on_error(log):
        if is_softargmax(cfg):
            return evaluate_multitask(cfg, ctxs, log, ckpt, data)
        return evaluate(cfg, ctxs, log, ckpt, data, mapping)


if __name__ == "__main__":
    main()
