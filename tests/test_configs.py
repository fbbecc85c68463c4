"""The config mechanism: bases, overrides, and one-line errors that name the key."""
import glob
import os
import re
import subprocess
import sys

import pytest
import yaml

from engine.config import (
    BASE,
    CONFIG_DIR,
    POSE_BASE,
    RANGES,
    SYSTEMS,
    ConfigError,
    config_path,
    experiment_files,
    flatten,
    load_config,
    save_config,
)


def test_every_experiment_file_resolves_and_names_its_run():
    files = experiment_files()
    # 4 NTU + 3 N-UCLA + MSR + UTD + synthetic protocols x 5 rows, + 3 NTU-pretrain rows for the
    # 5 protocols of the small datasets, + 3 cross-dataset targets x 5 rows (Table 13), + the
    # multitask model's separate and fine-tuned rows (Luvizon Table 5) on synth xview3 and NTU xsub
    # and (Luvizon Table 3) on Penn Action's official split, its annotated / Kinect-poses rows
    # (Tables 3, 5) on synth, Penn Action and NTU, Table 3's joint-learning row on Penn Action,
    # and the 5 row templates for your own videos
    assert len(files) == 10 * 5 + 5 * 3 + 3 * 5 + 2 * 3 + 3 + 1 + 5
    for f in files:
        cfg = load_config(f)
        name = os.path.basename(f)[:-5]
        assert cfg["experiment"] == name and cfg["out"] == f"runs/{name}"
        if name.startswith("cross_"):
            assert cfg["eval"]["cross_dataset"] == f"{cfg['data']['dataset']}_ntu"
        else:
            assert name.startswith(f"{cfg['data']['dataset']}_{cfg['data']['protocol']}_")


def test_experiment_files_are_in_a_folder_per_system_and_dataset():
    """configs/<system>/<dataset>/<name>.yaml, the name unique under configs/ (it is the
    experiment and its runs folder); at the root only base.yaml and the shared folders."""
    root = sorted(os.listdir(CONFIG_DIR))
    assert root == sorted(["base.yaml", "rows", "datasets", "pose", "cross_dataset", *SYSTEMS])
    names = [os.path.basename(f) for f in glob.glob(os.path.join(CONFIG_DIR, "**", "*.yaml"),
                                                    recursive=True)]
    assert sorted(n for n in set(names) if names.count(n) > 1) == ["base.yaml"]
    for f in experiment_files():
        system, group, name = os.path.relpath(f, CONFIG_DIR).split(os.sep)
        assert (system == "softargmax") == ("softargmax" in name), f
        assert name.startswith(f"{group}_") or name.startswith("penn_action_") and group == "penn" \
            or name.startswith("custom_list_") and group == "custom", f
        assert config_path(name[:-5]) == f


def test_rows_differ_only_where_the_paper_says():
    base = flatten(load_config(config_path("nucla_xview1_rgb_person_crop")))
    random_crop = flatten(load_config(config_path("nucla_xview1_rgb_random_crop")))
    diff = {k for k in base if base[k] != random_crop[k]}
    assert diff == {"experiment", "out", "data.crop"}
    stage2 = load_config(config_path("nucla_xview1_kps_pose_r18"))
    assert stage2["train"]["stage"] == "pose_cnn"
    assert stage2["train"]["init_from"] == "runs/nucla_xview1_kps/final.params"


def test_overrides_are_typed():
    cfg = load_config(config_path("ntu_xsub_kps"),
                      ["train.lr=0.02", "train.lr_steps=[1, 2]", "data.workers=0",
                       "train.wd=5e-4"])
    assert cfg["train"]["lr"] == 0.02 and cfg["train"]["lr_steps"] == [1, 2]
    assert cfg["train"]["wd"] == 5e-4
    assert cfg["model"]["options"]["num_classes"] == 60


@pytest.mark.parametrize("override,message", [
    ("train.lr_stpes=[1]", "unknown config key 'train.lr_stpes'"),
    ("trian.lr=1", "unknown config key 'trian.lr'"),
    ("train.epochs=ten", "'train.epochs' takes a int"),
    ("data.crop=center", "choose one of person, frame"),
    ("data.protocol=xview9", "nucla has xview1, xview2, xview3"),
    ("no_equals_sign", "not key=value"),
])
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_config(config_path("nucla_xview1_kps"), [override])


def test_unknown_key_in_a_file(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("bases: [datasets/nucla.yaml]\ntrain: {epoch: 3}\n")
    with pytest.raises(ConfigError, match="'train.epoch'.*did you mean 'train.epochs'"):
        load_config(str(path))


def test_saved_config_loads_back_the_same(tmp_path):
    cfg = load_config(config_path("synth_xview3_kps"), ["train.epochs=3"])
    path = str(tmp_path / "config.yaml")
    save_config(cfg, path)
    assert load_config(path, [f"experiment={cfg['experiment']}", f"out={cfg['out']}"]) == cfg


def test_cross_dataset_mappings_follow_the_appendix_names():
    import json

    from data import registry
    ntu = registry.dataset("ntu").adapter()
    sizes = {}
    for target in ("nucla", "msr", "utd"):
        with open(os.path.join(CONFIG_DIR, "cross_dataset", f"{target}_ntu.json")) as f:
            mapping = json.load(f)
        classes = registry.dataset(target).adapter().CLASSES
        for label, sources in mapping["classes"].items():
            assert [ntu.CLASSES[s] for s in sources] == [mapping["names"][classes[int(label)]]]
        sizes[target] = len(mapping["classes"])
    assert sizes == {"nucla": 5, "msr": 8, "utd": 2}  # appendix Tables 10, 11, 12


# --- Configs fail before any work: YAML errors, non-mappings, values outside their range ---

ROOT = os.path.dirname(CONFIG_DIR)
SYNTH = config_path("synth_xview3_kps")
# Keys whose default is null or [] and whose values are not numbers (so need no range).
NOT_NUMERIC = {"experiment", "model.pretrained", "model.global_stats", "data.detections",
               "train.init_from", "train.init_fresh", "train.pose_cnn_init", "eval.checkpoint",
               "eval.cross_dataset", "data.mix", "data.layout", "data.test_source",
               "train.kvstore", "eval.int8_float32"}
BAD_LINE_3 = "data: {dataset: synth, protocol: xview3}\ntrain:\n  epochs: 3: 4\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("where", ["experiment", "a base it names", "base.yaml"])
def test_a_yaml_syntax_error_names_the_file_and_its_line(tmp_path, where):
    bad = write(tmp_path, "bad.yaml", BAD_LINE_3)
    with pytest.raises(ConfigError) as err:
        if where == "experiment":
            load_config(bad)
        elif where == "a base it names":
            load_config(write(tmp_path, "exp.yaml", f"bases: [{bad}]\n"))
        else:
            load_config(SYNTH, base=bad)
    message = str(err.value)
    assert message.startswith(f"{bad}, line 3: ") and "mapping values" in message
    assert "\n" not in message


def test_an_error_noticed_a_line_late_also_names_the_line_it_began_on(tmp_path):
    bad = write(tmp_path, "bad.yaml", "data: {dataset: synth, protocol: xview3}\nepochs\n"
                                      "train: {epochs: 3}\n")
    with pytest.raises(ConfigError, match=r"line 3: .*expected ':' \(while scanning a simple "
                                          r"key on line 2\)$"):
        load_config(bad)


def test_an_override_that_is_not_yaml_names_the_override():
    with pytest.raises(ConfigError, match=r"override 'train.lr_steps=\[1,': the value is not "
                                          r"valid YAML"):
        load_config(SYNTH, ["train.lr_steps=[1,"])


@pytest.mark.parametrize("text,kind", [("- train.epochs: 3\n", "list"), ("3\n", "int"),
                                       ("just words\n", "str")])
def test_a_file_that_is_not_a_mapping_names_the_file(tmp_path, text, kind):
    bad = write(tmp_path, "flat.yaml", text)
    with pytest.raises(ConfigError, match=f"{bad} holds a {kind} at the top level; a config "
                                          f"file is a mapping"):
        load_config(bad)


@pytest.mark.parametrize("bases", ["datasets/synth.yaml", "[1, 2]", "{a: b}", "null"])
def test_bases_must_be_a_list_of_files(tmp_path, bases):
    bad = write(tmp_path, "exp.yaml", f"bases: {bases}\n")
    with pytest.raises(ConfigError, match=f"{bad}: bases is .*; it must be a list of config "
                                          f"files"):
        load_config(bad)


def test_a_section_given_a_value_names_the_section():
    with pytest.raises(ConfigError, match=r"config section 'train' takes a mapping of its keys "
                                          r"\(train.amp, train.batch_size, .*\), got 5$"):
        load_config(SYNTH, ["train=5"])


@pytest.mark.parametrize("override,message", [
    ("train.epochs=0", "'train.epochs' is 0; it must be an integer >= 1"),
    ("train.epochs=", "'train.epochs' is None; it must be an integer >= 1"),
    ("train.batch_size=0", "'train.batch_size' is 0; it must be an integer >= 1"),
    ("train.lr=.nan", "'train.lr' is nan; it must be a finite number > 0"),
    ("train.lr=nan", "'train.lr' is nan; it must be a finite number > 0"),
    ("train.lr=-inf", "'train.lr' is -inf; it must be a finite number > 0"),
    ("train.lr=-1", "'train.lr' is -1; it must be a finite number > 0"),
    ("train.lr_factor=0", "'train.lr_factor' is 0; it must be a number in (0, 1]"),
    ("train.momentum=1", "'train.momentum' is 1; it must be a number in [0, 1)"),
    ("train.wd=.inf", "'train.wd' is inf; it must be a finite number >= 0"),
    ("train.max_unreadable=1.5", "'train.max_unreadable' is 1.5; it must be a number in [0, 1]"),
    ("train.loss_weights=[1, 1]", "it must be 3 finite numbers >= 0"),
    ("train.loss_weights=[1, .nan, 1]", "it must be 3 finite numbers >= 0"),
    ("train.lr_steps=[4, -1]", "'train.lr_steps' is [4, -1]; it must be a list of integers >= 0"),
    ("train.seed=-1", "'train.seed' is -1; it must be an integer in [0, 4294967295]"),
    ("data.stride=0", "'data.stride' is 0; it must be null or an integer >= 1"),
    ("data.stride=two", "'data.stride' is 'two'; it must be null or an integer >= 1"),
    ("data.size=100", "'data.size' is 100; it must be an integer >= 32, a multiple of 32"),
    ("data.jitter_size=1", "'data.jitter_size' is 1; it must be a number in [0, 1)"),
    ("data.workers=-1", "'data.workers' is -1; it must be an integer >= 0"),
    ("eval.num_clips=0", "'eval.num_clips' is 0; it must be an integer >= 1"),
])
def test_values_outside_their_range_name_the_key_and_the_range(override, message):
    with pytest.raises(ConfigError, match=re.escape(message) + "$"):
        load_config(SYNTH, [override])


def test_a_non_finite_number_in_a_file_is_an_error(tmp_path):
    exp = write(tmp_path, "exp.yaml", "bases: [datasets/synth.yaml, rows/kps.yaml]\n"
                                      "train: {lr: .nan}\n")
    with pytest.raises(ConfigError, match=r"'train.lr' is nan; it must be a finite number > 0"):
        load_config(exp)


@pytest.mark.parametrize("override,message", [
    ("data.input_size=[100, 128]", "it must be 2 integers >= 32, each a multiple of 32"),
    ("data.input_size=[96]", "it must be 2 integers >= 32, each a multiple of 32"),
    ("data.scale=1", "'data.scale' is 1; it must be a number in [0, 1)"),
    ("data.rotation=181", "'data.rotation' is 181; it must be a number in [0, 180]"),
    ("eval.batch_size=0", "'eval.batch_size' is 0; it must be an integer >= 1"),
])
def test_pose_values_outside_their_range_name_the_key(override, message):
    with pytest.raises(ConfigError, match=re.escape(message) + "$"):
        load_config(os.path.join(CONFIG_DIR, "pose", "synth_tiny.yaml"), [override],
                    base=POSE_BASE)


def is_numeric(value):
    number = (isinstance(value, (int, float)) and not isinstance(value, bool))
    return number or (isinstance(value, list) and bool(value) and all(map(is_numeric, value)))


@pytest.mark.parametrize("base", [BASE, POSE_BASE])
def test_every_numeric_key_of_the_base_files_has_a_range(base):
    with open(base) as f:
        defaults = flatten(yaml.safe_load(f))
    numeric = {k for k, v in defaults.items() if is_numeric(v)}
    assert numeric and numeric <= set(RANGES), f"no range for {sorted(numeric - set(RANGES))}"
    # a key that is null or [] by default says nothing of its type: it is named here or ranged
    unset = {k for k, v in defaults.items() if v is None or v == []}
    assert unset <= set(RANGES) | NOT_NUMERIC, f"add {sorted(unset - set(RANGES) - NOT_NUMERIC)}"


def test_every_range_is_of_a_key_in_a_base_file():
    keys = set()
    for base in (BASE, POSE_BASE):
        with open(base) as f:
            keys |= set(flatten(yaml.safe_load(f)))
    assert set(RANGES) <= keys and NOT_NUMERIC <= keys


def test_every_shipped_pose_experiment_file_validates():
    files = sorted(glob.glob(os.path.join(CONFIG_DIR, "pose", "*.yaml")))
    files.remove(POSE_BASE)
    assert files
    for f in files:
        assert load_config(f, base=POSE_BASE)["train"]["epochs"] >= 1


def test_an_unknown_placeholder_names_the_key():
    with pytest.raises(ConfigError, match=r"config key 'out' is 'runs/\{exp\}'; the only "
                                          r"placeholders are \{dataset\}"):
        load_config(SYNTH, ["out=runs/{exp}"])


@pytest.mark.parametrize("bad_file,overrides,names", [
    (True, [], "bad.yaml, line 3: not valid YAML: mapping values are not allowed here"),
    (False, ["train.epochs=0"], "config key 'train.epochs' is 0; it must be an integer >= 1"),
])
def test_train_action_stops_on_a_bad_config_with_one_line(tmp_path, bad_file, overrides, names):
    config = write(tmp_path, "bad.yaml", BAD_LINE_3) if bad_file else SYNTH
    out = tmp_path / "run"
    run = subprocess.run([sys.executable, "train_action.py", "--config", config, *overrides,
                          f"out={out}"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode != 0
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and names in lines[0], run.stderr
    assert "Traceback" not in run.stderr and not out.exists()
