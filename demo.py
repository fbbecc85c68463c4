"""make demo: the whole pipeline on the synthetic benchmark, ending in the paper's ablation table.

synthesise -> prepare -> person boxes (the benchmark's ground truth stands in for the detector)
-> pose targets (ground-truth keypoints) -> train the ablation rows (RGBAction random crop,
RGBAction person crop, KPS RGBAction, KPS PoseAction RGBAction with a ResNet-18 pose CNN) on the
biased views 1 and 2 -> test on the unbiased view 3 -> table. Then the paper's pose stage: a
tiny pose model trained on a COCO-format set of other synthetic people labels every video
(pseudo-poses), and the two pose rows are trained again on those labels -> a second table.
Every stage is the project's real code at the tiny model size (configs/datasets/synth.yaml,
configs/pose/synth_tiny.yaml), and every stage resumes: a rerun redoes only what is missing.
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
import eval_coco
import pseudo_poses
import train_action
import train_pose
from configs import POSE_BASE, load_config
from data import synth
from data.index import atomic_write_text, read_annotation, read_index, write_poses
from data.prepare import prepare
from errors import exit_on_error

ROWS = (("RGBAction random crop", "rgb_random_crop"),
        ("RGBAction person crop", "rgb_person_crop"),
        ("KPS RGBAction", "kps"),
        ("KPS PoseAction RGBAction (ResNet-18)", "kps_pose_r18"))


def ground_truth_poses(prepared, poses_dir):
    """The benchmark's keypoints as the video model's pose targets."""
    for s in read_index(prepared):
        if not os.path.exists(os.path.join(poses_dir, s["id"] + ".npy")):
            kps, _ = read_annotation(os.path.join(prepared, "annotations", s["id"] + ".npz"))
            write_poses(poses_dir, s["id"], kps)


def table(rows, title="synthetic xview3 (test view unbiased)"):
    lines = [f"| {title} | RGB | Pose / Fused |", "| --- | ---: | ---: |"]
    for name, r in rows:
        t = r["top1"]
        pose = f"{100 * t['pose']:.1f} / {100 * t['fused']:.1f}" if "pose" in t else "-"
        lines.append(f"| {name} | {100 * t['rgb']:.1f} | {pose} |")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="work/synth", help="data of the benchmark")
    parser.add_argument("--runs", default="runs", help="where the rows' runs go")
    parser.add_argument("--bias", type=float, default=0.9)
    parser.add_argument("overrides", nargs="*", help="config overrides for every row")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    log = logging.getLogger("demo")
    with exit_on_error(log):
        return run(args, log)


def run(args, log):
    tic, cpu = time.time(), [mx.cpu()]
    raw, prepared = os.path.join(args.work, "raw"), os.path.join(args.work, "prepared")
    boxes, poses = os.path.join(args.work, "boxes.json"), os.path.join(args.work, "poses")
    log.info("1/6 synthesising the benchmark in %s", raw)
    synth.generate(raw, bias=args.bias)
    log.info("2/6 preparing")
    prepare("synth", raw, prepared)
    log.info("3/6 person boxes (ground truth as the detector)")
    if not os.path.exists(boxes):
        detect_persons.run(prepared, boxes, "synth", detector="gt")
    log.info("4/6 pose targets (ground-truth keypoints as pseudo-poses)")
    ground_truth_poses(prepared, poses)
    common = [f"data.prepared={prepared}", f"data.boxes={boxes}"] + args.overrides
    results = run_rows(ROWS, common + [f"data.poses={poses}",
                                       f"runs={os.path.join(args.runs, 'demo')}"], log)
    log.info("6/6 pseudo-poses: a pose model trained on other synthetic people labels the videos")
    coco = os.path.join(args.work, "coco")
    if not os.path.exists(os.path.join(coco, "person_keypoints_val.json")):
        synth.generate_coco(coco)
    pose_cfg = load_config(os.path.join("configs", "pose", "synth_tiny.yaml"), [
        f"data.train_ann={coco}/person_keypoints_train.json",
        f"data.val_ann={coco}/person_keypoints_val.json", f"data.train_images={coco}/images",
        f"data.val_images={coco}/images", f"runs={args.runs}",
        "experiment=demo_pose"], base=POSE_BASE)
    if not os.path.exists(os.path.join(pose_cfg["out"], "final.params")):
        train_pose.run(pose_cfg, cpu, resume_run=True)
    coco_stats = eval_coco.evaluate(pose_cfg, cpu[0], log)
    coco_untrained = eval_coco.evaluate(pose_cfg, cpu[0], log, untrained=True)
    pseudo = os.path.join(args.work, "pseudo_poses")
    pseudo_poses.run(pose_cfg, prepared, boxes, pseudo, cpu[0])
    pseudo_results = run_rows(ROWS[2:], common + [
        f"data.poses={pseudo}", f"runs={os.path.join(args.runs, 'demo_pseudo')}"], log)
    text = "\n\n".join([
        table(results, "ground-truth poses, synthetic xview3 (test view unbiased)"),
        table(pseudo_results, "pseudo-poses of the tiny pose model"),
        f"tiny pose model on the synthetic COCO-format val set (ground-truth boxes): AP "
        f"{100 * coco_stats['AP']:.1f}, AP50 {100 * coco_stats['AP50']:.1f} after training; "
        f"AP {100 * coco_untrained['AP']:.1f}, AP50 {100 * coco_untrained['AP50']:.1f} untrained"])
    minutes = (time.time() - tic) / 60
    atomic_write_text(os.path.join(args.runs, "demo_results.md"),
                      text + f"\n\nwall time {minutes:.1f} min\n")
    atomic_write_text(os.path.join(args.runs, "demo_results.json"), json.dumps(dict(
        rows=[dict(name=n, **r) for n, r in results],
        pseudo_rows=[dict(name=n, **r) for n, r in pseudo_results],
        coco=coco_stats, coco_untrained=coco_untrained, minutes=minutes), indent=1))
    print(text)
    print(f"wall time: {minutes:.1f} min")


def run_rows(rows, overrides, log):
    """Train (resuming) and test each ablation row; -> [(name, results)]. Stage-2 rows start
    from their runs folder's KPS RGBAction model (the rows' configs say where)."""
    results = []
    for name, row in rows:
        cfg = load_config(os.path.join("configs", f"synth_xview3_{row}.yaml"), overrides)
        log.info("5/6 %s (%s): training and testing", name, cfg["out"])
        if not os.path.exists(os.path.join(cfg["out"], "final.params")):
            train_action.run(cfg, [mx.cpu()], resume_run=True)
        results.append((name, eval_action.run(cfg, [mx.cpu()])))
    return results


if __name__ == "__main__":
    sys.exit(main())
