"""Luvizon et al. 2018's multitask model in the shared stages: its action training (Appendix B's
two stages, ``train_multitask``, called by train_action.py) and its test (Sec. 4.3,
``evaluate_multitask``, called by eval_action.py): single- or multi-clip, top-1 of the pose
stream, the appearance stream and their aggregation (paper Table 5's three columns), of every
action prediction block of each stream (Figure 8) and per class (Figure 9).

Test crops (eval.clip_box): "predicted", Sec. 5.2's box of the poses the model itself predicts on
the whole first, middle and last frames of each clip (``predict_clip_boxes``, with the model under
test); "joints", the box of the annotated joints on those frames; "annotation", the union of the
clip's annotated boxes. The pose stream reads the model's estimated poses, or with
model.options.pose_input "annotated" the annotation's joints; the appearance stream attends
through the pose part's probability maps, or with model.options.attention_maps "annotated"
through maps built from the annotation's joints. Table 3's "annotated poses" and Table 5's
"Kinect poses" rows take all three from the annotation, so no estimated pose enters them.

Learning rate (Appendix B): with train.lr_schedule plateau, data.val_share of the training videos
are held out and tested after every epoch as the test set is (``validation``); lr x lr_factor
when their top-1 stops improving. The end_to_end stage with train.init_lr_divisor d starts at
the first stage's final lr / d (``finetune_lr``)."""
import json
import os

import mxnet as mx
import numpy as np
from tqdm import tqdm

from common.files import atomic_write_text
from data.loader import UNREADABLE, UNREADABLE_LABEL, Skippable, Substitutes, make_loader
from data.multitask import pose_frames as PF
from data.multitask.clip_boxes import pose_box
from data.multitask.pose_frames import hold_out
from data import registry
from engine.inference import hardware
from engine.training.checkpoints import load_weights
from engine.experiment import build_with, multitask_clips, multitask_options, split_samples
from engine.systems.loading import loaded
from engine.views.plots import (
    block_accuracy_figure,
    class_accuracy_figure,
    confusion_figure,
    read_metrics,
)
from engine.metrics.scoring import (
    MULTITASK_STREAMS,
    check_finite,
    class_accuracy,
    confusion,
    hits,
    multitask_heads,
    multitask_scores,
    row_name,
    top1,
)
from engine.training.loop import fit
from symbols import get_model
from symbols.multitask.loss import MultitaskActionLoss
from symbols.multitask.model import POSE_PART

# ---- Luvizon et al.'s multitask models -------------------------------------------------------------
MULTITASK_HEADS = ("pose", "appearance", "aggregation")  # paper Table 5's columns


def annotated_poses(cfg):
    """Whether the config's network reads the annotation's joints (model.options pose_input or
    attention_maps "annotated")."""
    options = cfg["model"]["options"]
    return "annotated" in (options.get("pose_input", "estimated"),
                           options.get("attention_maps", "estimated"))


def clip_options(cfg, mode):
    """The MultitaskClips options of the config's keys (``MultitaskClips.replace``)."""
    return dict(outside=cfg["data"]["outside_joints"], annotated_poses=annotated_poses(cfg),
                box_source=cfg["eval"]["clip_box"] if mode == "test" else "annotation")


def predict_clip_boxes(net, clips, ctx, batch_size=8):
    """Sec. 5.2's initial prediction: for every test video of ``clips`` (MultitaskClips), the
    pose part's last-block pose on the whole frames its clips' boxes need (``box_frames``),
    mapped to frame pixels, and the box enclosing each pose -> clips.set_predicted_boxes. A
    video that cannot be read, or has no annotation, is left to its test item to report."""
    if not hasattr(net, "predict_pose"):
        raise ValueError("predict_clip_boxes needs the multitask network itself (predict_pose)")
    boxes = {}
    for i in tqdm(range(len(clips)), desc="pose boxes", disable=None):
        if clips.annotations[i] is None:
            continue
        frames = clips.box_frames(i)
        try:
            images, matrices = clips.whole_frames(i, frames)
        except UNREADABLE:
            continue
        poses = np.concatenate([
            net.predict_pose(mx.nd.array(images[s:s + batch_size], ctx))[0].asnumpy()
            for s in range(0, len(frames), batch_size)])  # (n, J, 3) in [0, 1]
        uv, _ = PF.decode(poses, np.zeros(len(frames)), clips.size)  # (n, J, 2) input pixels
        boxes[clips.name_of(i)] = {f: pose_box(PF.to_frame(uv[k], matrices[k]))
                                   for k, f in enumerate(frames)}
    clips.set_predicted_boxes(boxes)


def multitask_test_data(cfg, skip_unreadable=False):
    """The protocol's test videos as the multitask model's test clips (``multitask_clips``)."""
    if cfg["eval"]["cross_dataset"]:
        raise ValueError("eval.cross_dataset: the multitask models have no cross-dataset test")
    data = multitask_clips(cfg, split_samples(cfg, "test"), "test").replace(
        **clip_options(cfg, "test"))
    return Skippable(data) if skip_unreadable else data


def multitask_markdown(results):
    name = row_name(results, results["experiment"] + f" ({results['clips']}-clip)")
    cells = [f"{100 * results['top1'][h]:.1f}" for h in MULTITASK_HEADS]
    return ("| model | Pose | Appearance | Aggregation |\n| --- | ---: | ---: | ---: |\n"
            f"| {name} | " + " | ".join(cells) + " |")


def loaded_model(cfg, ctx, ckpt, log):
    """The multitask network of ``cfg`` with ``ckpt``'s weights, run in eval.dtype (int8
    calibrates on the run's training clips)."""
    net = get_model(cfg["model"]["name"], ctx=[ctx], **multitask_options(cfg))
    return loaded(net, cfg, ctx, ckpt, log, lambda: training_clips(cfg))


def training_clips(cfg):
    """The run's training split as multitask training clips."""
    return multitask_clips(cfg, split_samples(cfg, "train"), "train")


def evaluate_multitask(cfg, ctxs, log, ckpt, data):
    """Score a multitask ``ckpt`` on ``data`` (``multitask_test_data``) -> the results dict
    (also written to OUT: results.json, results.md, per_video.jsonl, confusion.png, and the
    paper's Figure 8 and 9 for this run: blocks.png, classes.png). per_video.jsonl: a line a
    video, each head's predicted class, its averaged softmax probability of the true class
    (``p_label``) and each action block's predicted class."""
    ctx = ctxs[0]
    net = loaded_model(cfg, ctx, ckpt, log)
    clips = getattr(data, "dataset", data)
    if clips.box_source == "predicted":  # the initial prediction runs in float32
        box_net = net if hasattr(net, "predict_pose") else loaded_model(
            dict(cfg, eval=dict(cfg["eval"], dtype="float32")), ctx, ckpt, log)
        predict_clip_boxes(box_net, clips, ctx, cfg["eval"]["views_per_batch"])
    dataset = registry.dataset(cfg["data"]["dataset"], "video").adapter()
    samples = clips.samples
    loader = make_loader(data, 1, workers=cfg["data"]["workers"])
    blocks = net.action_blocks if hasattr(net, "action_blocks") else \
        sum(n.startswith("pose_action") for n in net.output_names)
    scores, labels, per_video, skipped, clips_seen = {}, [], [], [], []
    for i, batch in enumerate(tqdm(loader, desc="eval", disable=None)):
        views, label = batch[0], batch[1]
        if int(label.asscalar()) == UNREADABLE_LABEL:
            skipped.append(dict(id=samples[i]["id"], reason=data.reason(i)))
            log.warning("skipped unreadable test video %s: %s", *skipped[-1].values())
            continue
        poses = batch[2][0] if len(batch) > 2 else None
        s = multitask_scores(net, views[0], ctx, cfg["eval"]["views_per_batch"], poses)
        check_finite(np.stack(list(s.values())), f"scores for test video {samples[i]['id']}")
        for name, v in s.items():
            scores.setdefault(name, []).append(v)
        labels.append(int(label.asscalar()))
        clips_seen.append(int(views.shape[1]))
        video = multitask_heads(s, blocks)
        per_video.append(dict(id=samples[i]["id"], label=labels[-1], clips=clips_seen[-1],
                              **{h: int(np.argmax(v)) for h, v in video.items()},
                              p_label={h: float(v[labels[-1]]) for h, v in video.items()},
                              **{f"{h}_blocks": [int(np.argmax(s[f"{p}{b + 1}"]))
                                                 for b in range(blocks)]
                                 for h, p in MULTITASK_STREAMS.items()}))
    if not labels:
        raise ValueError(f"none of the {len(samples)} test videos could be read")
    labels = np.array(labels)
    scores = {h: np.stack(v) for h, v in scores.items()}
    heads = multitask_heads(scores, blocks)
    classes = list(dataset.CLASSES)
    matrix = confusion(heads["aggregation"].argmax(axis=1), labels, len(classes))
    results = dict(experiment=cfg["experiment"], checkpoint=ckpt, dtype=cfg["eval"]["dtype"],
                   machine=hardware.describe(),
                   videos=len(labels),
                   test_videos=len(samples), skipped=skipped,
                   clips=cfg["eval"]["multitask_clips"], clips_per_video=float(np.mean(clips_seen)),
                   clip_box=clips.box_source,
                   pose_input=getattr(net, "pose_input", "estimated"),
                   attention_maps=getattr(net, "attention_maps", "estimated"),
                   top1={h: top1(v, labels) for h, v in heads.items()},
                   top1_blocks={h: [top1(scores[f"{prefix}{b + 1}"], labels)
                                    for b in range(blocks)]
                                for h, prefix in MULTITASK_STREAMS.items()},
                   per_class={h: class_accuracy(hits(v, labels), labels, classes)
                              for h, v in heads.items()},
                   confusion=matrix.tolist())
    out = cfg["out"]
    confusion_figure(matrix, classes, os.path.join(out, "confusion.png"),
                     title=f"{cfg['experiment']} (aggregation): top-1 "
                           f"{100 * results['top1']['aggregation']:.1f}%")
    block_accuracy_figure([(cfg["experiment"], results)], os.path.join(out, "blocks.png"),
                          title=f"top-1 per action block ({results['clips']}-clip)")
    class_accuracy_figure(results, os.path.join(out, "classes.png"),
                          title=f"{cfg['experiment']}: top-1 per class")
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
        if net.reads_poses:  # the annotation's joints feed the pose stream or the attention
            known = (mask > 0) * (target == target)  # NaN != NaN
            coords = mx.nd.where(known, target, mx.nd.zeros_like(target))
            seen = (visibility == visibility) * (visibility > 0)
            weight = seen * known.slice_axis(axis=-1, begin=0, end=1).squeeze(axis=-1)
            outputs = dict(zip(net.output_names,
                               net(clip, mx.nd.concat(coords, weight.expand_dims(-1), dim=-1))))
        else:
            outputs = dict(zip(net.output_names, net(clip)))
        total, metrics = criterion(outputs, label, target, mask, visibility)
        metrics["train_action_top1"] = outputs["action"].argmax(axis=1) == label.astype("float32")
        return total, metrics
    return loss_fn


def hold_out_videos(cfg, clips):
    """Training clips (MultitaskClips) -> (training clips, validation clips or None):
    data.val_share of the annotated training videos' performances (``hold_out``, by train.seed),
    read as test clips under the test's options (eval.multitask_clips, eval.clip_box)."""
    share = cfg["data"]["val_share"]
    if share <= 0:
        return clips, None
    kept, held = hold_out(clips.samples, share, cfg["train"]["seed"])
    return (clips.replace(samples=kept, **clip_options(cfg, "train")),
            clips.replace(samples=held, mode="test", pose_targets=False,
                          **clip_options(cfg, "test")))


def validation(cfg, clips, ctx):
    """validate(net) -> 1 - the aggregation's top-1 on the validation clips (lower is better,
    as training.fit's plateau wants), each video scored as ``evaluate_multitask`` scores a test
    video: its test crops from the poses the net predicts (eval.clip_box predicted), softmax
    averaged over its clips."""
    per_batch = cfg["eval"]["views_per_batch"]

    def validate(net):
        if clips.box_source == "predicted":
            predict_clip_boxes(net, clips, ctx, per_batch)
        scores, labels = [], []
        for i in range(len(clips)):
            item = clips[i]  # views (V, 3, T, S, S), label[, poses (V, T, J, 4)]
            poses = mx.nd.array(item[2]) if len(item) > 2 else None
            scores.append(multitask_scores(net, mx.nd.array(item[0]), ctx, per_batch,
                                           poses)["action"])
            labels.append(int(item[1]))
        return 1.0 - top1(np.stack(scores), labels)
    return validate


def finetune_lr(cfg):
    """The end_to_end stage's lr: with train.init_lr_divisor d, the init_from run's final lr / d
    (Appendix B: "we divide the final learning rate by 10"), that run's last epoch line in its
    metrics.jsonl (the plateau's lr_next, else the lr it trained with); else train.lr."""
    t = cfg["train"]
    if t["stage"] != "end_to_end" or t["init_lr_divisor"] is None:
        return t["lr"]
    path = os.path.join(os.path.dirname(t["init_from"]), "metrics.jsonl")
    epochs = [r for r in read_metrics(path) if r.get("kind") == "epoch"] \
        if os.path.isfile(path) else []
    if not epochs:
        raise FileNotFoundError(f"train.init_lr_divisor: no epoch in {path}, the log of the run "
                                f"that wrote train.init_from; set train.lr and "
                                f"train.init_lr_divisor=null to give the lr yourself")
    return epochs[-1].get("lr_next", epochs[-1]["lr"]) / t["init_lr_divisor"]


def train_multitask(cfg, ctxs, log, dataset, resume_run=False):
    """Appendix B. Stage pose_frozen: the pose part (stem and prediction blocks, by name) from a
    trained pose model, frozen; the action streams and the aggregation start fresh. Stage
    end_to_end: every parameter from the pose_frozen run (but those of train.init_fresh: Table
    3's joint learning starts the action parts afresh from the pose run), all of them trained."""
    clips = dataset.dataset.replace(**clip_options(cfg, "train"))
    note = clips.left_out_note()  # the videos without annotation
    if note:
        log.warning("%s", note)
    clips, val = hold_out_videos(cfg, clips)
    if len(clips) < cfg["train"]["batch_size"]:
        raise ValueError(f"{len(clips)} training videos (after holding out data.val_share) are "
                         f"fewer than a batch ({cfg['train']['batch_size']})")
    if val is not None:
        log.info("validation: %d of %d training videos held out (data.val_share %g)", len(val),
                 len(val) + len(clips), cfg["data"]["val_share"])
    dataset = Substitutes(clips)
    cfg = dict(cfg, train=dict(cfg["train"], lr=finetune_lr(cfg)))
    t = cfg["train"]
    if t["init_lr_divisor"] is not None and t["stage"] == "end_to_end":
        log.info("lr %g: the final lr of %s's run / %g", t["lr"], t["init_from"],
                 t["init_lr_divisor"])
    mx.random.seed(t["seed"])  # the initial weights depend on the seed only
    net = build_with(cfg, ctxs, multitask_options(cfg))
    if t["stage"] == "pose_frozen":
        load_weights(net, t["init_from"], ctxs, log, only=POSE_PART)
        net.freeze_pose()
    else:  # train.init_fresh: the parts a joint-learning run starts afresh
        load_weights(net, t["init_from"], ctxs, log, fresh=t["init_fresh"] or ())
    criterion = MultitaskActionLoss(net.action_blocks, net.pose_blocks,
                                    *t["multitask_loss_weights"],
                                    pose_weight=t["multitask_pose_weight"],
                                    visibility_weight=t["visibility_weight"])
    params = list(net.collect_params().values())
    log.info("stage %s: %d of %d parameter arrays train", t["stage"],
             sum(p.grad_req != "null" for p in params), len(params))
    validate = validation(cfg, val, ctxs[0]) if val is not None else None
    return fit(cfg, net, dataset, multitask_loss(criterion), ctxs, log, resume_run, validate)
