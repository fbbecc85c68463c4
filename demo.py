"""make demo: the whole pipeline on the synthetic benchmark, ending in the paper's ablation table.

synthesise -> prepare -> person boxes (the benchmark's ground truth stands in for the detector)
-> pose targets (ground-truth keypoints stand in for pseudo-poses) -> train the ablation rows
(RGBAction random crop, RGBAction person crop, KPS RGBAction, KPS PoseAction RGBAction with a
ResNet-18 pose CNN) on the biased views 1 and 2 -> test on the unbiased view 3 -> table.
Every stage is the project's real code at the tiny model size (configs/datasets/synth.yaml), and
every stage resumes: a rerun redoes only what is missing.
"""
import argparse
import json
import logging
import os
import sys
import time

from configs import load_config
from data import synth
from data.index import read_annotation, read_index, write_poses
from data.prepare import prepare
import detect_persons
import eval_action
import train_action

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


def table(rows):
    lines = ["| synthetic xview3 (test view unbiased) | RGB | Pose / Fused |",
             "| --- | ---: | ---: |"]
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
    tic = time.time()
    raw, prepared = os.path.join(args.work, "raw"), os.path.join(args.work, "prepared")
    boxes, poses = os.path.join(args.work, "boxes.json"), os.path.join(args.work, "poses")
    log.info("1/5 synthesising the benchmark in %s", raw)
    synth.generate(raw, bias=args.bias)
    log.info("2/5 preparing")
    prepare("synth", raw, prepared)
    log.info("3/5 person boxes (ground truth as the detector)")
    if not os.path.exists(boxes):
        detect_persons.run(prepared, boxes, "synth", detector="gt")
    log.info("4/5 pose targets (ground-truth keypoints as pseudo-poses)")
    ground_truth_poses(prepared, poses)
    common = [f"data.prepared={prepared}", f"data.boxes={boxes}", f"data.poses={poses}"]
    results = []
    for name, row in ROWS:
        config = os.path.join("configs", f"synth_xview3_{row}.yaml")
        out = os.path.join(args.runs, f"demo_{row}")
        overrides = common + [f"out={out}"] + args.overrides
        if row.startswith("kps_pose"):
            overrides.append(f"train.init_from={os.path.join(args.runs, 'demo_kps')}/final.params")
        log.info("5/5 %s: training and testing (%s)", name, config)
        if not os.path.exists(os.path.join(out, "final.params")):
            train_action.main(["--config", config, "--resume"] + overrides)
        results.append((name, eval_action.main(["--config", config] + overrides)))
    text = table(results)
    minutes = (time.time() - tic) / 60
    with open(os.path.join(args.runs, "demo_results.md"), "w") as f:
        f.write(text + f"\n\nwall time {minutes:.1f} min\n")
    with open(os.path.join(args.runs, "demo_results.json"), "w") as f:
        json.dump(dict(rows=[dict(name=n, **r) for n, r in results], minutes=minutes), f,
                  indent=1)
    print(text)
    print(f"wall time: {minutes:.1f} min")


if __name__ == "__main__":
    sys.exit(main())
