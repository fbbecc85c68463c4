"""Experiment files live in folders per system and dataset; a path from before the move (a file
at the root of configs/, also in a ``bases:`` entry) still loads, with a one-line notice."""
import os
import subprocess
import sys

import pytest

import common.config
from common import errors

from engine.config import CONFIG_DIR, ConfigError, experiment_files, load_config

ROOT = os.path.dirname(CONFIG_DIR)

@pytest.fixture
def fake_config_dir(tmp_path, monkeypatch):
    """An empty configs/ folder in tmp_path as CONFIG_DIR, with no notice printed yet."""
    folder = tmp_path / "configs"
    folder.mkdir()
    monkeypatch.setattr(common.config, "CONFIG_DIR", str(folder))
    monkeypatch.setattr(errors, "NOTICED", set())
    return folder


def put(folder, relative, text):
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def notices(capsys):
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("notice:")]


def test_an_old_path_loads_the_file_of_that_name_and_says_so_once(fake_config_dir, capsys):
    new = put(fake_config_dir, "system/synth/exp.yaml",
              "data: {dataset: synth, protocol: xview3}\ntrain: {epochs: 3}\n")
    old = str(fake_config_dir / "exp.yaml")
    cfg = load_config(old)
    assert cfg == load_config(new) and cfg["experiment"] == "exp" and cfg["out"] == "runs/exp"
    assert notices(capsys) == ["notice: configs/exp.yaml moved to configs/system/synth/exp.yaml; "
                               "the old name works until the next release"]
    assert load_config(old) == cfg and notices(capsys) == []


def test_an_old_relative_path_loads_from_another_folder(fake_config_dir, tmp_path, monkeypatch,
                                                       capsys):
    new = put(fake_config_dir, "system/synth/exp.yaml",
              "data: {dataset: synth, protocol: xview3}\n")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert load_config(os.path.join("configs", "exp.yaml")) == load_config(new)
    assert len(notices(capsys)) == 1


def test_a_base_named_by_its_old_path_loads_and_says_where(fake_config_dir, capsys):
    put(fake_config_dir, "system/synth/layer.yaml", "data: {dataset: synth, protocol: xview3}\n")
    exp = put(fake_config_dir, "system/synth/exp.yaml", "bases: [layer.yaml]\ntrain: {epochs: 3}\n")
    cfg = load_config(exp)
    assert cfg["data"]["protocol"] == "xview3" and cfg["train"]["epochs"] == 3
    assert notices(capsys) == ["notice: configs/layer.yaml (in the bases of "
                               "configs/system/synth/exp.yaml) moved to "
                               "configs/system/synth/layer.yaml; the old name works until the "
                               "next release"]


@pytest.mark.parametrize("name", ["nothing.yaml", "twice.yaml"])
def test_an_unknown_or_ambiguous_name_is_still_not_found(fake_config_dir, capsys, name):
    for folder in ("a", "b"):
        put(fake_config_dir, f"{folder}/twice.yaml", "data: {dataset: synth, protocol: xview3}\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(fake_config_dir / name))
    assert str(err.value) == f"config file not found: {fake_config_dir / name}"
    assert capsys.readouterr().err == ""


def test_a_missing_file_outside_configs_is_not_looked_up(fake_config_dir, tmp_path):
    put(fake_config_dir, "system/exp.yaml", "data: {dataset: synth, protocol: xview3}\n")
    with pytest.raises(ConfigError, match="^config file not found: .*other/exp.yaml$"):
        load_config(str(tmp_path / "other" / "exp.yaml"))


def test_config_path_finds_an_experiment_by_name(fake_config_dir):
    from engine.config import config_path
    new = put(fake_config_dir, "system/synth/exp.yaml", "{}\n")
    assert config_path("exp") == config_path("exp.yaml") == new
    with pytest.raises(ConfigError, match="config nothing.yaml: no file of that name under"):
        config_path("nothing")


def test_every_moved_file_loads_the_same_by_its_old_path(capsys):
    errors.NOTICED.clear()
    for f in experiment_files():
        name = os.path.basename(f)
        assert load_config(os.path.join(CONFIG_DIR, name)) == load_config(f), name
        assert notices(capsys) == [f"notice: configs/{name} moved to "
                                   f"{os.path.relpath(f, ROOT)}; the old name works until the "
                                   f"next release"]


def test_a_script_given_an_old_path_prints_the_notice_once():
    """train_action.py with a bad override: the notice, then the one-line error (no training)."""
    run = subprocess.run([sys.executable, "train_action.py", "--config",
                          "configs/nucla_xview1_kps.yaml", "train.epochs=0"],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode != 0
    assert run.stderr.splitlines() == [
        "notice: configs/nucla_xview1_kps.yaml moved to "
        "configs/action_machine/nucla/nucla_xview1_kps.yaml; the old name works until the next "
        "release",
        "error: config key 'train.epochs' is 0; it must be an integer >= 1"], run.stderr
