"""The exportable network equals the default one; export_onnx.py -> check_onnx.py round trip on
the tiny model (onnxruntime in .venv-onnx, `make onnx-env`), and a mismatch is one line."""
import importlib
import os
import re
import subprocess

import mxnet as mx
import numpy as np
import pytest

import export_onnx
import train_action
from helpers import ROOT, config, overrides
from symbols import get_model, model_config
from symbols.action_machine import ActionMachine

ONNX_PYTHON = os.path.join(ROOT, ".venv-onnx", "bin", "python")


def onnxruntime_missing():
    """Why the round trip cannot run here, or None."""
    import importlib.util
    if importlib.util.find_spec("onnx") is None:  # MXNet's exporter needs it here
        return "onnx is not installed in this environment (pip install -r requirements.txt)"
    if not os.path.isfile(ONNX_PYTHON):
        return "no .venv-onnx with onnxruntime (make onnx-env creates it)"
    probe = subprocess.run([ONNX_PYTHON, "-c", "import onnxruntime"], capture_output=True)
    return None if probe.returncode == 0 else ".venv-onnx cannot import onnxruntime"


@pytest.mark.parametrize("heads", [("rgb", "kps", "pose"), ("rgb", "kps"), ("rgb",)])
def test_the_exportable_network_gives_the_default_networks_outputs(heads):
    net = get_model("action_machine_tiny", heads=heads)
    kwargs = dict(model_config("action_machine_tiny", heads=heads).network_kwargs(),
                  bn_fold_time=False, exportable=True)
    exportable = ActionMachine(**kwargs)
    exportable.initialize()
    theirs = net._collect_params_with_prefix()
    mine = exportable._collect_params_with_prefix()
    assert sorted(mine) == sorted(theirs)  # the same parameter names
    for name, param in mine.items():
        param.set_data(theirs[name].data())
    clips = mx.nd.array(np.random.RandomState(0).normal(0, 1, (2, 3, 4, 64, 64)))
    expected = [o.asnumpy() for o in net(clips)]
    for hybrid in (False, True):
        if hybrid:
            exportable.hybridize()
        got = [o.asnumpy() for o in exportable(clips)]
        assert len(got) == len(expected) == len(net.output_names)
        for name, a, b in zip(net.output_names, got, expected):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)


def test_an_exportable_network_refuses_what_the_exporter_cannot_translate():
    kwargs = model_config("action_machine_tiny").network_kwargs()
    with pytest.raises(ValueError, match="bn_fold_time=False"):
        ActionMachine(**dict(kwargs, exportable=True))  # the folded batch norm reshapes with -3
    with pytest.raises(ValueError, match="soft-argmax"):
        ActionMachine(**dict(kwargs, bn_fold_time=False, decoder="softargmax", exportable=True))


@pytest.fixture(scope="module")
def exported(synth_work, tmp_path_factory):
    reason = onnxruntime_missing()
    if reason:
        pytest.skip(f"ONNX round trip skipped: {reason}")
    root = tmp_path_factory.mktemp("onnx")
    one = ("train.epochs=1", "train.batch_size=16", "train.lr_steps=[]")
    kps = train_action.main(["--config", config("kps")] + overrides(
        synth_work, str(root / "kps"), *one))
    args = overrides(synth_work, str(root / "kps_pose_r18"), *one, f"train.init_from={kps}")
    final = train_action.main(["--config", config("kps_pose_r18")] + args)
    out = str(root / "onnx")
    record = export_onnx.main(["--config", config("kps_pose_r18"), "--checkpoint", final,
                               "--out", out, "--clips", "3"] + args)
    return out, record


def check(out, *extra):
    return subprocess.run([ONNX_PYTHON, "-m", "tools.check_onnx", out, *extra], cwd=ROOT,
                          capture_output=True, text=True)


def test_onnxruntime_gives_mxnets_outputs_within_1e_4(exported):
    out, record = exported
    assert record["outputs"] == ["rgb", "heatmaps", "offsets", "keypoints", "pose"]
    assert record["input_shape"] == ["N", 3, 4, 64, 64] and record["opset"] == 13
    assert record["clips"].startswith("centre views of test videos")
    assert max(record["exportable_vs_evaluated"].values()) < 1e-5
    proc = check(out)
    assert proc.returncode == 0, proc.stderr
    diffs = dict(re.findall(r"^(\w+)\s+max abs difference (\S+)$", proc.stdout, re.M))
    assert set(diffs) == set(record["outputs"])
    assert all(float(v) <= 1e-4 for v in diffs.values()), proc.stdout


def test_a_mismatch_is_one_line(exported, tmp_path):
    out, _ = exported
    with np.load(os.path.join(out, "reference.npz")) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["pose"] = arrays["pose"] + 0.01
    os.symlink(os.path.join(out, "model.onnx"), tmp_path / "model.onnx")
    np.savez(tmp_path / "reference.npz", **arrays)
    proc = check(str(tmp_path))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("error: pose differs from MXNet by")


@pytest.mark.parametrize("name", ["export_onnx", "tools.check_onnx"])
def test_the_onnx_scripts_are_entry_scripts(name, capsys):
    module = importlib.import_module(name)
    assert capsys.readouterr().out == ""
    with pytest.raises(SystemExit) as exit_info:
        module.parse_args(["--help"])
    assert exit_info.value.code == 0 and "usage" in capsys.readouterr().out
