"""make demo-softargmax: the second system (Luvizon et al. 2018) on the synthetic benchmark, and
Action Machine with a soft-argmax decoder beside its arg-max one.

synthesise -> prepare -> person boxes and ground-truth poses (as ``make demo``) -> train the tiny
soft-argmax pose model (configs/pose/synth_softargmax_tiny.yaml) -> stage 1, the multitask model's
action streams on the frozen pose model
(configs/softargmax/synth/synth_xview3_softargmax_separate.yaml) -> stage 2, the whole network
fine-tuned end to end (..._finetuned.yaml) -> test each single- and multi-clip (Sec. 4.3), and
score its pose part on the test frames (2D PCK, 3D MPJPE); the same first stage with the pose
stream fed the benchmark's exact joints (Table 3's "annotated poses",
configs/softargmax/synth/synth_xview3_softargmax_annotated.yaml) -> table 1; the top-1 of every
action block of each stream and of the aggregation, separate and fine-tuned (Figure 8's numbers) ->
table 2, and Figures 8 and 9 as PNGs (runs/demo_softargmax_figure{8,9}.png).
Then Action Machine's tiny pose row (configs/action_machine/synth/synth_xview3_kps_pose_r18.yaml)
with model.options.decoder argmax and softargmax, trained jointly (train.stage joint, all three
heads from scratch: the pose-action loss reaches the pose head and the backbone only through the
soft-argmax) -> table 2; and, when make demo has trained its KPS RGBAction model, the same row in
its stage 2 (that model frozen: only the decoding differs), reusing make demo's runs.
Every stage is the project's code at the tiny size, and every stage resumes: a rerun redoes only
what is missing (a run with final.params is not retrained, a score already written for that
checkpoint is not recomputed). The benchmark's folders are make demo's, so either demo's data
serves the other.
"""
import argparse
import json
import logging
import os
import sys
import time

import mxnet as mx

import detect_persons
import eval_action
import eval_pose
import train_action
import train_pose
from engine.config import POSE_BASE, load_config
from data import synth
from common.errors import exit_on_error
from common.files import atomic_write_text
from data.prepare import prepare
from engine.demo import tables as demo_tables
from engine.inference import hardware
from engine import pose_eval as pose_model_eval
from engine.metrics.pose import score_frames
from engine.training.checkpoints import load_weights
from engine.demo.rows import ground_truth_poses, row_config, run_rows
from engine.systems import build_pose_model
from engine.pose_experiment import pose_frames
from engine.views.plots import block_accuracy_figure, class_accuracy_figure
from symbols.multitask.model import POSE_PART

MULTITASK_ROWS = (("separate (pose frozen)", "softargmax_separate"),
                  ("fine-tuned end to end", "softargmax_finetuned"),
                  ("annotated poses (pose frozen)", "softargmax_annotated"))
# (name, config row, overrides, runs sub-folder). Joint: the base's lr (0.01), as the KPS row.
JOINT = ["train.stage=joint", "train.init_from=null", "train.lr=0.01"]
DECODER_ROWS = (
    ("joint (all heads), argmax", "kps_pose_r18", JOINT, "demo_joint_argmax"),
    ("joint (all heads), softargmax", "kps_pose_r18",
     JOINT + ["model.options.decoder=softargmax"], "demo_joint_softargmax"),
)
# Stage 2 starts from make demo's KPS RGBAction run (the decoder plays no part in it).
STAGE2_ROWS = (
    ("stage 2 (KPS frozen), argmax", "kps_pose_r18", [], "demo"),
    ("stage 2 (KPS frozen), softargmax", "kps_pose_r18", ["model.options.decoder=softargmax"],
     "demo_softargmax_decoder"),
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="work/synth", help="data of the benchmark")
    parser.add_argument("--runs", default="runs", help="where the runs go")
    parser.add_argument("--bias", type=float, default=0.9)
    parser.add_argument("--skip-action-machine", action="store_true",
                        help="only the multitask model (tables 1 and 2)")
    parser.add_argument("--subjects", type=int, default=synth.DEMO_SUBJECTS,
                        help="benchmark size (data.synth): subjects, as make demo's")
    parser.add_argument("--repetitions", type=int, default=2)
    parser.add_argument("--frames", type=int, default=36)
    parser.add_argument("--pose-override", action="append", default=[], metavar="KEY=VALUE",
                        help="applied to the pose config (e.g. train.epochs=1 for a smoke run)")
    parser.add_argument("--action-override", action="append", default=[], metavar="KEY=VALUE",
                        help="applied to every multitask video config")
    return parser.parse_args(argv)


def prepare_benchmark(args, log):
    """make demo's first four steps (the same functions and folders) -> (prepared, boxes,
    poses)."""
    raw, prepared = os.path.join(args.work, "raw"), os.path.join(args.work, "prepared")
    boxes, poses = os.path.join(args.work, "boxes.json"), os.path.join(args.work, "poses")
    log.info("synthesising and preparing the benchmark in %s", args.work)
    synth.generate(raw, subjects=args.subjects, repetitions=args.repetitions,
                   frames=args.frames, bias=args.bias)
    prepare("synth", raw, prepared)
    if not os.path.exists(boxes):
        detect_persons.run(prepared, boxes, "synth", detector="gt")
    ground_truth_poses(prepared, poses)
    return prepared, boxes, poses


def reuse(path, checkpoint):
    """The results JSON at ``path`` if it scores ``checkpoint``, else None."""
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        result = json.load(f)
    return result if result.get("checkpoint") == checkpoint else None


def pose_model(args, prepared, log, cpu):
    """Train (resuming) and score the tiny soft-argmax pose model -> (its config, final.params,
    its pose_eval result)."""
    cfg = load_config(os.path.join("configs", "pose", "synth_softargmax_tiny.yaml"),
                      [f"data.prepared={prepared}", f"runs={args.runs}", *args.pose_override],
                      base=POSE_BASE)
    final = os.path.join(cfg["out"], "final.params")
    if not os.path.exists(final):
        log.info("the soft-argmax pose model (%s)", cfg["out"])
        train_pose.run(cfg, cpu, resume_run=True)
    result = reuse(os.path.join(cfg["out"], "pose_eval.json"), final)
    return cfg, final, result or eval_pose.run(cfg, cpu[0], log)


def pose_part_scores(pose_cfg, params, out, log, ctx):
    """PCK and MPJPE of the pose part (stem and prediction blocks) of a multitask checkpoint on
    the pose config's test frames, scored as eval_pose.py scores a pose model -> {metric: mean};
    written to OUT/pose_part.json."""
    path = os.path.join(out, "pose_part.json")
    done = reuse(path, params)
    if done:
        return done["mean"]
    dataset = pose_frames(pose_cfg, "test")
    net = build_pose_model(pose_cfg, [ctx])
    load_weights(net, params, [ctx], log, only=POSE_PART)
    net.hybridize(static_alloc=True)
    e = pose_cfg["eval"]
    uv, xyz = pose_model_eval.predict_frames(net, dataset, ctx, e["batch_size"], e["flip"], params)
    scores = score_frames(uv, xyz, dataset.ground_truth())
    mean = {m: v[1] for m, v in scores.items()}
    atomic_write_text(path, json.dumps(dict(checkpoint=params, frames=len(dataset), mean=mean)))
    return mean


def multitask_rows(args, prepared, pose_cfg, pose_final, log, cpu):
    """Stage 1 and stage 2, each trained (resuming) and tested single- and multi-clip, and its
    pose part scored -> [(name, {clips: results}, pose part scores)]."""
    runs = os.path.join(args.runs, "demo_softargmax")
    rows = []
    for name, row in MULTITASK_ROWS:
        overrides = [f"data.prepared={prepared}", f"runs={runs}", *args.action_override]
        if row != "softargmax_finetuned":
            overrides.append(f"train.init_from={pose_final}")
        cfg = load_config(*row_config(row, overrides))
        final = os.path.join(cfg["out"], "final.params")
        log.info("multitask %s (%s): training and testing", name, cfg["out"])
        if not os.path.exists(final):
            train_action.run(cfg, cpu, resume_run=True)
        results = {}
        for clips in ("single", "multi"):
            out = cfg["out"] if clips == "single" else cfg["out"] + "_multi"
            test = load_config(*row_config(row, overrides + [
                f"out={out}", f"eval.checkpoint={final}", f"eval.multitask_clips={clips}"]))
            results[clips] = reuse(os.path.join(out, "results.json"), final) or \
                eval_action.run(test, cpu)
        rows.append((name, results, pose_part_scores(pose_cfg, final, cfg["out"], log, cpu[0])))
    return rows


def joint_schedule():
    """Overrides that give the joint rows make demo's KPS RGBAction schedule: their config, the
    stage-2 row's, carries stage 2's own (longer, on kept keypoints of a frozen model)."""
    t = load_config(*row_config("kps", []))["train"]
    return [f"train.epochs={t['epochs']}", f"train.lr_steps={json.dumps(t['lr_steps'])}",
            "train.pose_cnn_draws=null"]


def decoder_row_list(kps_final):
    """[(name, config row, overrides, runs sub-folder)]: the joint rows on make demo's KPS
    schedule, then the stage-2 rows from the KPS RGBAction model ``kps_final`` unless None."""
    rows = [(n, r, extra + joint_schedule(), f) for n, r, extra, f in DECODER_ROWS]
    if kps_final is not None:
        rows += [(n, r, extra + [f"train.init_from={kps_final}"], f)
                 for n, r, extra, f in STAGE2_ROWS]
    return rows


def decoder_rows(args, prepared, boxes, poses, log):
    """Action Machine's pose row with the arg-max and the soft-argmax decoder -> [(name,
    results)]: trained jointly, and in stage 2 if make demo's KPS RGBAction run exists."""
    pretrained = os.path.join(args.runs, "demo_pose", "final.params")
    if not os.path.exists(pretrained):
        log.info("no %s (make demo's 2D pose model, which its rows' I3D is inflated from): "
                 "Action Machine's rows are left out; run make demo first", pretrained)
        return []
    common = [f"data.prepared={prepared}", f"data.boxes={boxes}", f"data.poses={poses}",
              f"model.pretrained={pretrained}"]
    kps_final = os.path.join(args.runs, "demo", "synth_xview3_kps", "final.params")
    if not os.path.exists(kps_final):
        log.info("no %s (make demo's KPS RGBAction model): the stage-2 decoder rows are left out",
                 kps_final)
        kps_final = None
    rows = decoder_row_list(kps_final)
    results = []
    for name, row, extra, folder in rows:
        results += run_rows([(name, row)], common + extra + [
            f"runs={os.path.join(args.runs, folder)}"], log, train_action.run, eval_action.run)
    return results


def pct(v):
    return f"{100 * v:.1f}"


def multitask_table(pose_result, rows):
    lines = ["| soft-argmax multitask (tiny), synthetic xview3 | test | Pose | Appearance | "
             "Aggregation | PCK@0.2 | MPJPE (mm) |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    m = pose_result["mean"]
    lines.append(f"| pose model alone | - | - | - | - | {m['PCK@0.2']:.1f} | "
                 f"{m['MPJPE']:.1f} |")
    for name, results, part in rows:
        for clips, r in results.items():
            t = r["top1"]
            lines.append(f"| {name} | {clips}-clip | {pct(t['pose'])} | {pct(t['appearance'])} "
                         f"| {pct(t['aggregation'])} | {part['PCK@0.2']:.1f} | "
                         f"{part['MPJPE']:.1f} |")
    return "\n".join(lines)


def block_table(rows):
    """Figure 8's numbers: top-1 of each action block of both streams and of the aggregation,
    per row and test."""
    count = len(rows[0][1]["single"]["top1_blocks"]["pose"])
    head = " | ".join(f"{s} {b + 1}" for s in ("pose", "app.") for b in range(count))
    lines = [f"| action blocks (Figure 8) | test | {head} | aggregation |",
             "| --- | --- |" + " ---: |" * (2 * count + 1)]
    for name, results, _ in rows:
        for clips, r in results.items():
            cells = [pct(v) for s in ("pose", "appearance") for v in r["top1_blocks"][s]]
            lines.append(f"| {name} | {clips}-clip | " + " | ".join(cells) +
                         f" | {pct(r['top1']['aggregation'])} |")
    return "\n".join(lines)


def figures(rows, runs):
    """Figure 8 (separate and fine-tuned, single-clip) and Figure 9 (the fine-tuned model,
    single-clip) -> their paths."""
    by_name = {name: results["single"] for name, results, _ in rows}
    paths = [os.path.join(runs, f"demo_softargmax_figure{n}.png") for n in (8, 9)]
    block_accuracy_figure([("separate", by_name[MULTITASK_ROWS[0][0]]),
                           ("fine-tuned", by_name[MULTITASK_ROWS[1][0]])], paths[0],
                          title="synthetic xview3: top-1 per action block (single-clip)")
    class_accuracy_figure(by_name[MULTITASK_ROWS[1][0]], paths[1],
                          title="synthetic xview3, fine-tuned: top-1 per action (single-clip)")
    return paths


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    log = logging.getLogger("demo_softargmax")
    with exit_on_error(log):
        return run(args, log)


def run(args, log):
    tic, cpu, minutes = time.time(), [mx.cpu()], {}
    prepared, boxes, poses = prepare_benchmark(args, log)
    pose_cfg, pose_final, pose_result = pose_model(args, prepared, log, cpu)
    rows = multitask_rows(args, prepared, pose_cfg, pose_final, log, cpu)
    minutes["multitask"] = (time.time() - tic) / 60
    text = multitask_table(pose_result, rows) + "\n\n" + block_table(rows)
    figures(rows, args.runs)
    record = dict(pose_model=pose_result["mean"],
                  multitask=[dict(name=n, results=r, pose_part=p) for n, r, p in rows])
    if not args.skip_action_machine:
        am_rows = decoder_rows(args, prepared, boxes, poses, log)
        if am_rows:
            text += "\n\n" + demo_tables.table(am_rows, "Action Machine tiny, KPS PoseAction "
                                                 "RGBAction (ResNet-18)")
            record["action_machine"] = [dict(name=n, **r) for n, r in am_rows]
    minutes["total"] = (time.time() - tic) / 60
    record["minutes"] = minutes
    record["machine"] = hardware.describe()
    atomic_write_text(os.path.join(args.runs, "demo_softargmax_results.md"),
                      text + f"\n\nwall time {minutes['total']:.1f} min on "
                             f"{hardware.describe_line(record['machine'])}\n")
    atomic_write_text(os.path.join(args.runs, "demo_softargmax_results.json"),
                      json.dumps(record, indent=1))
    print(text)
    print(f"wall time: {minutes['total']:.1f} min")


if __name__ == "__main__":
    sys.exit(main())
