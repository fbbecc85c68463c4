"""The ablation rows of ``make demo`` (paper Tables 4-7 on the synthetic benchmark), their runs
folders, and training and testing them through the stage scripts' ``run`` functions (passed in:
the engine imports no script)."""
import json
import os

import mxnet as mx

from engine.config import config_path, load_config
from data.index import read_annotation, read_index, write_poses

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


def seed_runs(runs, seed, name):
    """Seed 0 trains in RUNS/NAME (the single-seed demo's folders), seed s in RUNS/NAME_seed{s}."""
    return os.path.join(runs, name if seed == 0 else f"{name}_seed{seed}")


def row_config(row, overrides):
    """(the synthetic benchmark's config of ``row``, ``overrides``): load_config's arguments."""
    return config_path(f"synth_xview3_{row}"), overrides


def run_rows(rows, overrides, log, train, test, step=""):
    """Train (resuming) and test each ablation row with ``train(cfg, ctxs, resume_run)`` and
    ``test(cfg, ctxs)`` (train_action.run, eval_action.run); -> [(name, results)]. Stage-2 rows
    start from their runs folder's KPS RGBAction model (the rows' configs say where). A row whose
    trained model a later stage-2 row of ``rows`` freezes is not tested by itself: its RGB head
    is that row's, so its results are that row's RGB column (``rgb_of``). ``step`` begins each
    row's log line (the demo's stage)."""
    cfgs = [load_config(*row_config(row, overrides)) for _, row in rows]
    finals = [os.path.join(cfg["out"], "final.params") for cfg in cfgs]
    frozen_by = {finals.index(c["train"]["init_from"]): i for i, c in enumerate(cfgs)
                 if c["train"]["stage"] == "pose_cnn" and c["train"]["init_from"] in finals}
    results = {}
    for i, ((name, _), cfg) in enumerate(zip(rows, cfgs)):
        log.info("%s %s (%s, seed %d): training%s", step, name, cfg["out"],
                 cfg["train"]["seed"], "" if i in frozen_by else " and testing")
        if not os.path.exists(finals[i]):
            train(cfg, [mx.cpu()], resume_run=True)
        if i not in frozen_by:
            r = test(cfg, [mx.cpu()])
            with open(os.path.join(cfg["out"], "per_video.jsonl")) as f:  # the paired tests
                r["per_video"] = [json.loads(line) for line in f if line.strip()]
            results[i] = r
    for i, j in frozen_by.items():
        results[i] = rgb_of(results[j], cfgs[j]["out"])
    return [(name, results[i]) for i, (name, _) in enumerate(rows)]


def rgb_of(results, out):
    """A stage-2 row's results -> those of the model it froze: its RGB column alone."""
    return dict(top1=dict(rgb=results["top1"]["rgb"]), tested_in=out,
                per_video=[dict(id=v["id"], label=v["label"], rgb=v["rgb"])
                           for v in results["per_video"]])
