"""Every entry script imports without running anything and has parse_args() and main()."""
import importlib

import pytest

SCRIPTS = ["train_action", "eval_action", "detect_persons", "demo", "tools.bench",
           "symbols.__main__", "train_pose", "eval_coco", "pseudo_poses", "eval_pose",
           "visualize", "demo_video", "export_onnx", "tools.diagnose_pose",
           "data.prepare", "data.protocols", "data.synth", "data.ntu", "demo_softargmax"]


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_imports_cleanly(name, capsys):
    module = importlib.import_module(name)
    assert callable(module.parse_args) and callable(module.main)
    assert capsys.readouterr().out == ""  # nothing ran at import
    with pytest.raises(SystemExit) as exit_info:
        module.parse_args(["--help"])
    assert exit_info.value.code == 0
    assert "usage" in capsys.readouterr().out


def test_bench_markdown_reports_measured_rows():
    from tools import bench
    text = bench.markdown({"loader": [dict(workers=2, clips_per_s=12.34, clip="8x64x64",
                                           batch=8)]})
    assert "| loader (train clips, pose targets) | 2 workers, 8x64x64 | 12.3 clips/s |" in text


def test_bench_markdown_puts_the_second_system_beside_action_machine():
    from tools import bench
    text = bench.markdown({
        "latency": [dict(model="action_machine_r18", batch=1, ms_per_clip=200.0, macs=58e9,
                         ratio_to_i3d=1.1, gflops=580.0)],
        "softargmax": [dict(model="softargmax_multitask", input="3x20x256x256", ms=5000.0,
                            macs=130e9, params=17e6, gflops=52.0)]})
    assert ("| latency softargmax_multitask | batch 1, 3x20x256x256, 130.00 GMACs, 17.0 M params "
            "| 5000 ms (52.0 GFLOP/s, x25.0 AM-R18's clip) |") in text
