"""Errors that name the next step or the real cause, once: an unprepared dataset, GPUs on the CPU
build, a missing --raw folder (and no folder left behind), a checkpoint that does not exist, a
refused --resume listing every differing key; and --checkpoint on eval_action.py."""
import os
import shutil
import subprocess
import sys

import mxnet as mx
import pytest

import eval_action
import train_action
from helpers import ROOT, config, overrides


def run_script(*args):
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=300)
    return proc.returncode, proc.stderr.strip().splitlines()


def test_training_an_unprepared_dataset_names_make_prepare(tmp_path):
    argv = ["--config", config("kps"), f"data.prepared={tmp_path}/none", f"out={tmp_path}/o"]
    with pytest.raises(SystemExit) as err:
        train_action.main(argv)
    line = str(err.value)
    assert line.startswith(f"error: {tmp_path}/none holds no prepared dataset")
    assert "make prepare DATASET=synth RAW=" in line and "\n" not in line
    assert not os.path.exists(f"{tmp_path}/o")


@pytest.mark.skipif(mx.runtime.Features().is_enabled("CUDA"), reason="a GPU build of MXNet")
def test_gpus_on_the_cpu_build_name_the_gpu_install_once(synth_work, tmp_path):
    code, lines = run_script("train_action.py", "--config", config("kps"), "--gpus", "0",
                             *overrides(synth_work, str(tmp_path / "o")))
    assert code == 1 and lines[-1].startswith("error: --gpus 0: this MXNet is the CPU build")
    assert "make install MXNET=mxnet-cu112" in lines[-1]
    assert sum("CPU build" in line for line in lines) == 1 and "Traceback" not in lines[0]


def test_prepare_of_a_missing_raw_folder_names_it_and_leaves_nothing(tmp_path):
    out = tmp_path / "prepared"
    code, lines = run_script("-m", "data.prepare", "--dataset", "nucla", "--raw", "/nonexistent",
                             "--out", str(out))
    assert code == 1 and lines[-1].startswith("error: --raw: no such file or directory: "
                                              "/nonexistent")
    assert not out.exists()


def test_a_missing_checkpoint_is_said_to_be_missing(synth_work, tmp_path):
    with pytest.raises(SystemExit, match=r"^error: no checkpoint nosuch\.params: give an "
                                         r"existing \.params file"):
        eval_action.main(["--config", config("kps")] + overrides(
            synth_work, str(tmp_path / "o"), "eval.checkpoint=nosuch.params"))


@pytest.fixture(scope="module")
def one_epoch(synth_work, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("one_epoch") / "run")
    train_action.main(["--config", config("rgb_person_crop")] + overrides(
        synth_work, out, "train.epochs=1", "train.lr_steps=[]", "train.lr=0.01"))
    return out


def test_a_refused_resume_lists_every_differing_key(synth_work, one_epoch, tmp_path):
    copy = str(tmp_path / "run")
    shutil.copytree(one_epoch, copy)
    with pytest.raises(SystemExit) as err:
        train_action.main(["--config", config("rgb_person_crop"), "--resume"] + overrides(
            synth_work, copy, "train.epochs=1", "train.lr_steps=[]", "train.lr=0.5",
            "train.momentum=0.5"))
    line = str(err.value)
    assert "differs from" in line and "at 2 key(s): train.lr 0.01 -> 0.5; train.momentum " in line


def test_eval_takes_checkpoint_as_a_flag(synth_work, one_epoch, tmp_path):
    ckpt = os.path.join(one_epoch, "final.params")
    out = str(tmp_path / "eval")
    results = eval_action.main(["--config", config("rgb_person_crop"), "--checkpoint", ckpt]
                               + overrides(synth_work, out, "train.epochs=1"))
    assert results["checkpoint"] == ckpt
