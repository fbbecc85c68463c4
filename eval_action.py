"""Evaluate a trained Action Machine with the paper's test protocol (Sec. 4.3, "Testing").

    python eval_action.py --config configs/nucla_xview1_kps_pose_r18.yaml [key=value ...]

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
import argparse
import json
import os

import numpy as np
from tqdm import tqdm

from checkpoints import checkpoint_or_last, load_weights
from configs import CONFIG_DIR, add_config_args, load_config_or_exit
from data.index import atomic_write_text
from data.loader import UNREADABLE_LABEL, Skippable, make_loader
from data.protocols import get_dataset
from errors import check_writable, exit_on_error
from experiment import (build_model, checked_against_checkpoint, clip_dataset, contexts,
                        is_softargmax, multitask_clips, setup_logging, split_samples)
import hardware
from plots import confusion_figure
from precision import add_dtype_arg, check_dtype, for_inference, with_dtype


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_args(parser)
    parser.add_argument("--skip-unreadable", action="store_true",
                        help="list an undecodable test video as skipped (with the reason) and "
                             "score the rest; by default it stops the evaluation")
    add_dtype_arg(parser)
    return parser.parse_args(argv)


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def video_scores(net, views, ctx, views_per_batch):
    """views (V, 3, T, S, S) -> {head: softmax averaged over the V views}."""
    sums = {}
    for start in range(0, views.shape[0], views_per_batch):
        chunk = views[start:start + views_per_batch].as_in_context(ctx)
        outputs = dict(zip(net.output_names, net(chunk)))
        for head in ("rgb", "pose"):
            if head in outputs:
                p = softmax(outputs[head].asnumpy()).sum(axis=0)
                sums[head] = sums.get(head, 0) + p
    return {k: v / views.shape[0] for k, v in sums.items()}


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


def top1(scores, labels, mapping=None, restricted=True):
    """Fraction correct. With a cross-dataset ``mapping`` (target -> source labels), scores are
    over the source classes and only the mapped ones compete (``restricted``), or all do."""
    if mapping is None:
        return float(np.mean(scores.argmax(axis=1) == labels))
    allowed = sorted({s for v in mapping.values() for s in v}) if restricted else \
        list(range(scores.shape[1]))
    pred = np.array(allowed)[scores[:, allowed].argmax(axis=1)]
    return float(np.mean([p in mapping[l] for p, l in zip(pred, labels)]))


def confusion(pred, labels, n):
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (labels, pred), 1)
    return m


def row_name(results, name):
    """The row's name with what qualifies its numbers: a precision other than float32, and
    videos left unscored."""
    if results.get("dtype", "float32") != "float32":
        name += f" ({results['dtype']})"
    if results["videos"] < results["test_videos"]:
        name += f" (scored {results['videos']} of {results['test_videos']})"
    return name


def markdown_row(results):
    name = row_name(results, results["experiment"])
    cells = [name, f"{100 * results['top1']['rgb']:.1f}"]
    if "pose" in results["top1"]:
        cells.append(f"{100 * results['top1']['pose']:.1f} / {100 * results['top1']['fused']:.1f}")
    else:
        cells.append("-")
    return "| " + " | ".join(cells) + " |"


def check_finite(scores_or_logits, what):
    if not np.isfinite(scores_or_logits).all():
        raise FloatingPointError(f"the model produced non-finite {what}: no score is reported")


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


def loaded_model(cfg, ctx, ckpt, log):
    """The config's network with ``ckpt``'s weights (strictly), run in eval.dtype."""
    net = build_model(cfg, [ctx])
    load_weights(net, ckpt, [ctx], log)
    net.hybridize(static_alloc=True)
    return for_inference(net, cfg["eval"]["dtype"], ctx)  # precision.py


def evaluate(cfg, ctxs, log, ckpt, data, mapping=None):
    """Score ``ckpt`` on ``data`` (``test_data``) -> the results dict (also written to OUT)."""
    ctx = ctxs[0]
    net = loaded_model(cfg, ctx, ckpt, log)
    dataset = get_dataset(cfg["data"]["dataset"])
    samples = getattr(data, "dataset", data).samples
    loader = make_loader(data, 1, workers=cfg["data"]["workers"])
    scores, labels, per_video, skipped = {}, [], [], []
    for i, (views, label) in enumerate(tqdm(loader, desc="eval", disable=None)):
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
    labels = np.array(labels)
    scores = {h: np.stack(v) for h, v in scores.items()}
    results = dict(experiment=cfg["experiment"], checkpoint=ckpt, dtype=cfg["eval"]["dtype"],
                   machine=hardware.describe(),
                   videos=len(labels),
                   test_videos=len(samples), skipped=skipped,
                   views=cfg["eval"]["num_clips"] * 3,
                   top1={h: top1(v, labels, mapping,
                                 cfg["eval"]["cross_dataset_argmax"] == "restricted")
                         for h, v in scores.items()})
    best = "fused" if "fused" in scores else "rgb"
    if mapping is None:
        classes = list(dataset.CLASSES)
        pred = scores[best].argmax(axis=1)
        matrix = confusion(pred, labels, len(classes))
        results["per_class"] = {c: float(matrix[i, i] / max(matrix[i].sum(), 1))
                                for i, c in enumerate(classes)}
        results["confusion"] = matrix.tolist()
        confusion_figure(matrix, classes, os.path.join(cfg["out"], "confusion.png"),
                         title=f"{cfg['experiment']} ({best}): top-1 "
                               f"{100 * results['top1'][best]:.1f}%")
    out = cfg["out"]
    atomic_write_text(os.path.join(out, "results.json"), json.dumps(results, indent=1))
    atomic_write_text(os.path.join(out, "per_video.jsonl"),
                      "".join(json.dumps(r) + "\n" for r in per_video))
    table = "| model | RGB | Pose / Fused |\n| --- | ---: | ---: |\n" + markdown_row(results)
    atomic_write_text(os.path.join(out, "results.md"), table + "\n")
    log.info("top-1, scored %d of %d test videos: %s", len(labels), len(samples),
             ", ".join(f"{h} {100 * v:.1f}%" for h, v in results["top1"].items()))
    return results


# ---- Luvizon et al.'s multitask models -------------------------------------------------------------
MULTITASK_HEADS = ("pose", "appearance", "aggregation")  # paper Table 5's columns


def multitask_scores(net, views, ctx, views_per_batch):
    """views (V, 3, T, S, S), V test clips -> {head: softmax averaged over the V clips} for the
    last action block of each stream and the aggregated output."""
    last = {"pose": f"pose_action{net.action_blocks}",
            "appearance": f"appearance_action{net.action_blocks}", "aggregation": "action"}
    sums = {}
    for start in range(0, views.shape[0], views_per_batch):
        outputs = dict(zip(net.output_names,
                           net(views[start:start + views_per_batch].as_in_context(ctx))))
        for head, name in last.items():
            sums[head] = sums.get(head, 0) + softmax(outputs[name].asnumpy()).sum(axis=0)
    return {k: v / views.shape[0] for k, v in sums.items()}


def multitask_test_data(cfg, skip_unreadable=False):
    """The protocol's test videos as the multitask model's test clips (``multitask_clips``)."""
    if cfg["eval"]["cross_dataset"]:
        raise ValueError("eval.cross_dataset: the multitask models have no cross-dataset test")
    data = multitask_clips(cfg, split_samples(cfg, "test"), "test")
    return Skippable(data) if skip_unreadable else data


def multitask_markdown(results):
    name = row_name(results, results["experiment"] + f" ({results['clips']}-clip)")
    cells = [f"{100 * results['top1'][h]:.1f}" for h in MULTITASK_HEADS]
    return ("| model | Pose | Appearance | Aggregation |\n| --- | ---: | ---: | ---: |\n"
            f"| {name} | " + " | ".join(cells) + " |")


def evaluate_multitask(cfg, ctxs, log, ckpt, data):
    """Score a multitask ``ckpt`` on ``data`` (``multitask_test_data``) -> the results dict
    (also written to OUT: results.json, results.md, per_video.jsonl, confusion.png)."""
    ctx = ctxs[0]
    net = loaded_model(cfg, ctx, ckpt, log)
    dataset = get_dataset(cfg["data"]["dataset"])
    samples = getattr(data, "dataset", data).samples
    loader = make_loader(data, 1, workers=cfg["data"]["workers"])
    scores, labels, per_video, skipped, clips = {}, [], [], [], []
    for i, (views, label) in enumerate(tqdm(loader, desc="eval", disable=None)):
        if int(label.asscalar()) == UNREADABLE_LABEL:
            skipped.append(dict(id=samples[i]["id"], reason=data.reason(i)))
            log.warning("skipped unreadable test video %s: %s", *skipped[-1].values())
            continue
        s = multitask_scores(net, views[0], ctx, cfg["eval"]["views_per_batch"])
        check_finite(np.stack(list(s.values())), f"scores for test video {samples[i]['id']}")
        for head, v in s.items():
            scores.setdefault(head, []).append(v)
        labels.append(int(label.asscalar()))
        clips.append(int(views.shape[1]))
        per_video.append(dict(id=samples[i]["id"], label=labels[-1], clips=clips[-1],
                              **{h: int(np.argmax(v)) for h, v in s.items()}))
    if not labels:
        raise ValueError(f"none of the {len(samples)} test videos could be read")
    labels = np.array(labels)
    scores = {h: np.stack(v) for h, v in scores.items()}
    classes = list(dataset.CLASSES)
    matrix = confusion(scores["aggregation"].argmax(axis=1), labels, len(classes))
    results = dict(experiment=cfg["experiment"], checkpoint=ckpt, dtype=cfg["eval"]["dtype"],
                   machine=hardware.describe(),
                   videos=len(labels),
                   test_videos=len(samples), skipped=skipped,
                   clips=cfg["eval"]["multitask_clips"], clips_per_video=float(np.mean(clips)),
                   top1={h: top1(v, labels) for h, v in scores.items()},
                   per_class={c: float(matrix[i, i] / max(matrix[i].sum(), 1))
                              for i, c in enumerate(classes)},
                   confusion=matrix.tolist())
    out = cfg["out"]
    confusion_figure(matrix, classes, os.path.join(out, "confusion.png"),
                     title=f"{cfg['experiment']} (aggregation): top-1 "
                           f"{100 * results['top1']['aggregation']:.1f}%")
    atomic_write_text(os.path.join(out, "results.json"), json.dumps(results, indent=1))
    atomic_write_text(os.path.join(out, "per_video.jsonl"),
                      "".join(json.dumps(r) + "\n" for r in per_video))
    atomic_write_text(os.path.join(out, "results.md"), multitask_markdown(results) + "\n")
    log.info("top-1 (%s-clip), scored %d of %d test videos: %s", results["clips"], len(labels),
             len(samples), ", ".join(f"{h} {100 * v:.1f}%" for h, v in results["top1"].items()))
    return results


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config_or_exit(args.config, with_dtype(args.overrides, args.dtype))
    return run(cfg, contexts(args.gpus, args.cpus), args.skip_unreadable)


def run(cfg, ctxs, skip_unreadable=False):
    """Check the checkpoint against the config and the inputs, then evaluate (one-line errors)."""
    with exit_on_error():
        check_dtype(cfg["eval"]["dtype"], ctxs[0])
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
