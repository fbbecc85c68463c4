"""Every entry script imports without running anything and has parse_args() and main()."""
import importlib

import pytest

SCRIPTS = ["train_action", "eval_action", "detect_persons", "demo", "bench", "symbols.__main__",
           "train_pose", "eval_coco", "pseudo_poses", "eval_pose",
           "data.prepare", "data.protocols", "data.synth", "data.ntu"]


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
    import bench
    text = bench.markdown({"loader": [dict(workers=2, clips_per_s=12.34, clip="8x64x64",
                                           batch=8)]})
    assert "| loader (train clips, pose targets) | 2 workers, 8x64x64 | 12.3 clips/s |" in text
