"""The config mechanism: bases, overrides, and one-line errors that name the key."""
import glob
import os

import pytest

from configs import CONFIG_DIR, ConfigError, flatten, load_config, save_config


def experiment_files():
    return sorted(f for f in glob.glob(os.path.join(CONFIG_DIR, "*.yaml"))
                  if not f.endswith("base.yaml"))


def test_every_experiment_file_resolves_and_names_its_run():
    files = experiment_files()
    # 4 NTU + 3 N-UCLA + MSR + UTD + synthetic protocols x 5 rows, + 3 NTU-pretrain rows for the
    # 5 protocols of the small datasets, + 3 cross-dataset targets x 5 rows (Table 13)
    assert len(files) == 10 * 5 + 5 * 3 + 3 * 5
    for f in files:
        cfg = load_config(f)
        name = os.path.basename(f)[:-5]
        assert cfg["experiment"] == name and cfg["out"] == f"runs/{name}"
        if name.startswith("cross_"):
            assert cfg["eval"]["cross_dataset"] == f"{cfg['data']['dataset']}_ntu"
        else:
            assert name.startswith(f"{cfg['data']['dataset']}_{cfg['data']['protocol']}_")


def test_rows_differ_only_where_the_paper_says():
    base = flatten(load_config(os.path.join(CONFIG_DIR, "nucla_xview1_rgb_person_crop.yaml")))
    random_crop = flatten(load_config(os.path.join(CONFIG_DIR,
                                                   "nucla_xview1_rgb_random_crop.yaml")))
    diff = {k for k in base if base[k] != random_crop[k]}
    assert diff == {"experiment", "out", "data.crop"}
    stage2 = load_config(os.path.join(CONFIG_DIR, "nucla_xview1_kps_pose_r18.yaml"))
    assert stage2["train"]["stage"] == "pose_cnn"
    assert stage2["train"]["init_from"] == "runs/nucla_xview1_kps/final.params"


def test_overrides_are_typed():
    cfg = load_config(os.path.join(CONFIG_DIR, "ntu_xsub_kps.yaml"),
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
        load_config(os.path.join(CONFIG_DIR, "nucla_xview1_kps.yaml"), [override])


def test_unknown_key_in_a_file(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("bases: [datasets/nucla.yaml]\ntrain: {epoch: 3}\n")
    with pytest.raises(ConfigError, match="'train.epoch'.*did you mean 'train.epochs'"):
        load_config(str(path))


def test_saved_config_loads_back_the_same(tmp_path):
    cfg = load_config(os.path.join(CONFIG_DIR, "synth_xview3_kps.yaml"), ["train.epochs=3"])
    path = str(tmp_path / "config.yaml")
    save_config(cfg, path)
    assert load_config(path, [f"experiment={cfg['experiment']}", f"out={cfg['out']}"]) == cfg


def test_cross_dataset_mappings_follow_the_appendix_names():
    import json
    from data.protocols import get_dataset
    ntu = get_dataset("ntu")
    sizes = {}
    for target in ("nucla", "msr", "utd"):
        with open(os.path.join(CONFIG_DIR, "cross_dataset", f"{target}_ntu.json")) as f:
            mapping = json.load(f)
        classes = get_dataset(target).CLASSES
        for label, sources in mapping["classes"].items():
            assert [ntu.CLASSES[s] for s in sources] == [mapping["names"][classes[int(label)]]]
        sizes[target] = len(mapping["classes"])
    assert sizes == {"nucla": 5, "msr": 8, "utd": 2}  # appendix Tables 10, 11, 12
