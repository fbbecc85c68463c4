"""Luvizon et al. 2018's multitask model in the shared stages: its action training (Appendix B's
two stages, ``train_multitask``, called by train_action.py) and its test (Sec. 4.3,
``evaluate_multitask``, called by eval_action.py): single- or multi-clip, top-1 of the pose
stream, the appearance stream and their aggregation (paper Table 5's three columns)."""
import json
import os

import mxnet as mx
import numpy as np
from tqdm import tqdm

from data.index import atomic_write_text
from data.loader import UNREADABLE_LABEL, Skippable, make_loader
from data.protocols import get_dataset
from engine import hardware
from engine.checkpoints import load_weights
from engine.experiment import build_model, multitask_clips, split_samples
from engine.inference import loaded_model
from engine.plots import confusion_figure
from engine.scoring import check_finite, confusion, row_name, softmax, top1
from engine.training import fit
from symbols.multitask.loss import MultitaskActionLoss
from symbols.multitask.model import POSE_PART

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


def multitask_loss(criterion):
    """(net, clip, label, target, mask, visibility) -> (total, per-clip metrics: the loss parts
    and whether the aggregated output was right)."""
    def loss_fn(net, clip, label, target, mask, visibility):
        outputs = dict(zip(net.output_names, net(clip)))
        total, metrics = criterion(outputs, label, target, mask, visibility)
        metrics["train_action_top1"] = outputs["action"].argmax(axis=1) == label.astype("float32")
        return total, metrics
    return loss_fn


def train_multitask(cfg, ctxs, log, dataset, resume_run=False):
    """Appendix B. Stage pose_frozen: the pose part (stem and prediction blocks, by name) from a
    trained pose model, frozen; the action streams and the aggregation start fresh. Stage
    end_to_end: every parameter from the pose_frozen run, all of them trained."""
    t = cfg["train"]
    note = dataset.dataset.left_out_note()  # Substitutes(MultitaskClips): the left-out videos
    if note:
        log.warning("%s", note)
    mx.random.seed(t["seed"])  # the initial weights depend on the seed only
    net = build_model(cfg, ctxs)
    if t["stage"] == "pose_frozen":
        load_weights(net, t["init_from"], ctxs, log, only=POSE_PART)
        net.freeze_pose()
    else:
        load_weights(net, t["init_from"], ctxs, log)
    criterion = MultitaskActionLoss(net.action_blocks, net.pose_blocks,
                                    *t["multitask_loss_weights"],
                                    pose_weight=t["multitask_pose_weight"],
                                    visibility_weight=t["visibility_weight"])
    params = list(net.collect_params().values())
    log.info("stage %s: %d of %d parameter arrays train", t["stage"],
             sum(p.grad_req != "null" for p in params), len(params))
    return fit(cfg, net, dataset, multitask_loss(criterion), ctxs, log, resume_run)
