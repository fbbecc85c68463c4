"""Action Machine as a task: its model, training data and loss, its test and scores, and its 2D
heat-map pose model (paper Sec. 3-4). ``engine.systems`` picks this module for the model families
"action_machine" and "pose" of symbols.MODELS; engine/systems/softargmax.py is its peer, with the
same functions.

Video configs (train_action.py, eval_action.py): ``check_config``, ``build_model``,
``training_data``, ``train``, ``test_data``, ``evaluate``, ``checked_against_checkpoint``,
``loaded_model``, ``training_clips``. Pose configs (train_pose.py): ``READS_COCO``,
``build_pose_model``, ``pose_loss_fn``.
"""
import json
import os

import mxnet as mx
import numpy as np
from mxnet import autograd

from common.files import atomic_write_text
from common.progress import Progress
from data.loader import UNREADABLE_LABEL, Skippable, make_loader, overlapped
from engine.config import CONFIG_DIR
from engine.experiment import (
    build_with,
    check_action_machine_config,
    check_num_classes,
    check_training_inputs,
    checked_action_machine,
    clip_dataset,
    dataset_of,
    inference_options,
    init_fresh,
    model_options,
    split_samples,
)
from engine.inference import hardware
from engine.systems.loading import loaded
from engine.systems.pose_draws import draw_keypoints
from engine.metrics.scoring import (check_finite, confusion, head_scores, queue_video_scores,
                                    read_video_scores, row_name)
from engine.pose_experiment import heatmap_pose_model
from engine.training.checkpoints import load_weights
from engine.training.loop import fit
from engine.views.plots import confusion_figure
from symbols import get_model, model_config
from symbols.action_machine import ActionMachineLoss
from symbols.pose_loss import PoseLoss

READS_COCO = True  # the heat-map pose model trains on COCO keypoints (data.source coco)


def check_config(cfg):
    """The keys an Action Machine video config cannot take, refused before any work."""
    check_action_machine_config(cfg)
    check_num_classes(cfg)


def build_model(cfg, ctx):
    """The config's Action Machine model on ``ctx`` (a list of contexts), initial weights."""
    return build_with(cfg, ctx, model_options(cfg, len(ctx)))


def checked_against_checkpoint(cfg, saved, ckpt):
    return checked_action_machine(cfg, saved, ckpt)


def loaded_model(cfg, ctx, ckpt, log):
    """The network built for inference with ``ckpt``'s weights, run in eval.dtype."""
    net = get_model(cfg["model"]["name"], ctx=[ctx], **inference_options(cfg))
    return loaded(net, cfg, ctx, ckpt, log, lambda: training_clips(cfg))


def training_clips(cfg):
    """The run's training split as training clips (the data its model was trained on)."""
    return clip_dataset(cfg, split_samples(cfg, "train"), "train", with_poses=False)


def loss_terms(cfg, heads):
    """Which of Eq. (8)'s losses train: stage 2 trains only the pose CNN's."""
    return ("pose",) if cfg["train"]["stage"] == "pose_cnn" else heads


def freeze_for_stage(net, cfg):
    """Stage pose_cnn: everything but the pose CNN keeps its weights (grad_req null)."""
    if cfg["train"]["stage"] != "pose_cnn":
        return
    if net.pose_cnn is None:
        raise ValueError("train.stage pose_cnn needs the pose CNN head ('pose' in heads)")
    for name, param in net.collect_params().items():
        if not name.startswith(net.pose_cnn.prefix):
            param.grad_req = "null"


def action_loss(criterion, stage="joint"):
    """(net, clip, label, heat, offsets, weight) -> (total, per-clip metrics: the loss parts and
    whether the RGB head was right). In stage pose_cnn the frozen KPS RGBAction model runs
    outside autograd's recording, in inference mode (its batch norm is on running statistics
    either way, and the arg-max decoder passes no gradient), so that backward and its memory
    cover the pose CNN alone."""
    def outputs_of(net, clip):
        if stage != "pose_cnn":
            return net(clip)
        with autograd.pause(train_mode=False):
            frozen, poses = net.before_pose_cnn(clip)
        return frozen + [net.pose_cnn(poses)]

    def loss_fn(net, clip, label, heat, offsets, weight):
        outputs = dict(zip(net.output_names, outputs_of(net, clip)))
        return step_metrics(criterion, outputs, label, heat, offsets, weight)
    return loss_fn


def kept_keypoints_loss(criterion):
    """(net, poses, label) -> (total, per-clip metrics): stage 2's pose CNN alone on the kept
    inputs of ``engine.systems.pose_draws`` (train.pose_cnn_draws)."""
    def loss_fn(net, poses, label):
        return step_metrics(criterion, {"pose": net.pose_cnn(poses)}, label)
    return loss_fn


def step_metrics(criterion, outputs, label, *targets):
    """(total, per-clip metrics): the loss parts and whether each head present was right."""
    total, parts = criterion(outputs, label, *targets)
    metrics = {f"loss_{k}": v for k, v in parts.items()}
    for head in ("rgb", "pose"):
        if head in outputs:
            metrics[f"train_{head}_top1"] = outputs[head].argmax(axis=1) == label.astype("float32")
    return total, metrics


def training_data(cfg, samples):
    """The training clips of ``samples``, with the pose targets where a pose loss trains (every
    file checked first)."""
    terms = loss_terms(cfg, model_config(cfg["model"]["name"], **cfg["model"]["options"]).heads)
    with_poses = "kps" in terms
    check_training_inputs(cfg, samples, with_poses)
    return clip_dataset(cfg, samples, "train", with_poses)


def train(cfg, ctxs, log, dataset, resume_run=False):
    """Train the config's stage (joint: Eq. (8)'s losses; pose_cnn: the pose CNN alone)."""
    t = cfg["train"]
    mx.random.seed(t["seed"])  # the initial weights depend on the seed only
    net = build_model(cfg, ctxs)
    if t["init_from"]:
        load_weights(net, t["init_from"], ctxs, log, fresh=init_fresh(cfg))
    if t["pose_cnn_init"]:
        load_weights(net, t["pose_cnn_init"], ctxs, log, only=("pose_cnn.",),
                     fresh=("pose_cnn.fc.",))
    freeze_for_stage(net, cfg)
    terms = loss_terms(cfg, net.config.heads)
    criterion = ActionMachineLoss(terms, t["loss_weights"], *t["pose_loss_weights"],
                                  heatmap_loss=t["heatmap_loss"], frames=t["pose_loss_frames"])
    log.info("losses %s", "+".join(terms))
    loss_fn = action_loss(criterion, t["stage"])
    if t["stage"] == "pose_cnn" and t.get("pose_cnn_draws"):
        net.hybridize(static_alloc=True)
        dataset = draw_keypoints(net, dataset, cfg, ctxs[0], t["pose_cnn_draws"], log)
        loss_fn = kept_keypoints_loss(criterion)
    return fit(cfg, net, dataset, loss_fn, ctxs, log, resume_run)


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

    def queue(item):  # a video's forward passes, not waited for; None for an unreadable one
        i, (views, label) = item
        progress.update()
        if int(label.asscalar()) == UNREADABLE_LABEL:
            skipped.append(dict(id=samples[i]["id"], reason=data.reason(i)))
            log.warning("skipped unreadable test video %s: %s", *skipped[-1].values())
            return None
        views_per_batch = cfg["eval"]["views_per_batch"]
        return i, queue_video_scores(net, views[0], ctx, views_per_batch), int(label.asscalar())

    for queued in overlapped(enumerate(loader), queue):
        if queued is None:
            continue
        i, views_scores, label = queued
        s = read_video_scores(views_scores)
        check_finite(np.stack(list(s.values())), f"scores for test video {samples[i]['id']}")
        if "pose" in s:
            s["fused"] = s["rgb"] + s["pose"]  # Sec. 3: predictions fused by summation
        for head, v in s.items():
            scores.setdefault(head, []).append(v)
        labels.append(label)
        per_video.append(dict(id=samples[i]["id"], label=label,
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


# ---- the 2D heat-map pose model (train_pose.py with a COCO config) -------------------------------
def build_pose_model(cfg, ctxs):
    return heatmap_pose_model(cfg, ctxs)


def pose_loss_fn(cfg, net):
    t = cfg["train"]
    return pose_loss(PoseLoss(*t["pose_loss_weights"], heatmap_loss=t["heatmap_loss"]))


def pose_loss(criterion):
    def loss_fn(net, image, heat, offsets, weight):
        h, o = net(image)  # (n, K, H, W), (n, K, 2, H, W): one frame, T = 1 for the loss
        total, lh, lo = criterion(h.expand_dims(1), o.expand_dims(1), heat.expand_dims(1),
                                  offsets.expand_dims(1), weight.expand_dims(1))
        return total, dict(loss_kps=total, loss_heatmap=lh, loss_offset=lo)
    return loss_fn
