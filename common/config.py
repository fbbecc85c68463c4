"""Experiment configs: one mechanism, three layers (the project's checks: engine/config.py).

``configs/base.yaml`` holds every key with its default and says what it means. An experiment file
(``configs/action_machine/nucla/nucla_xview1_kps.yaml``; its file name is the experiment, unique
under configs/, and ``config_path`` finds it by that name) lists ``bases`` (merged in order, paths
relative to configs/, not to the file) and holds only what differs. ``key=value`` overrides
(dotted keys, YAML values) come last. ``{dataset}``, ``{protocol}`` and ``{experiment}`` in string
values are filled in once everything is merged. The experiment files were at the root of configs/
until they went into folders: such an old path still loads, with a one-line notice, until the
next release.

Everything is checked before a script does any work: a file that is not YAML (named with its
line), not a mapping, an unknown key, a value of the wrong type, outside its choices or outside its
range (RANGES) is a one-line ConfigError naming the key and what is valid.
"""
import copy
import difflib
import glob
import os

import yaml

from common import cli
from common.errors import notice_once, one_line
from common.config_keys import CHOICES, FREE_FORM, SCIENTIFIC, ConfigError, check_value
from common.files import atomic_write_text

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")
BASE = os.path.join(CONFIG_DIR, "base.yaml")  # the video model's experiments
POSE_BASE = os.path.join(CONFIG_DIR, "pose", "base.yaml")  # the COCO pose model's
def _yaml_error(path, err):
    """A YAML parse error as one line naming the file and the (1-based) line."""
    problem, context = getattr(err, "problem", None), getattr(err, "context", None)
    at, near = getattr(err, "problem_mark", None), getattr(err, "context_mark", None)
    if problem is None:
        return ConfigError(f"{path} is not valid YAML: {' '.join(str(err).split())}")
    at = at or near
    text = f"{path}, line {at.line + 1}: not valid YAML: {problem}" if at else \
        f"{path}: not valid YAML: {problem}"
    if context:
        text += f" ({context} on line {near.line + 1})" if near and near.line != at.line else \
            f" ({context})"
    return ConfigError(" ".join(text.split()))


def _read(path):
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as err:
        raise _yaml_error(path, err) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a text (UTF-8) file") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} holds a {type(data).__name__} at the top level; a config "
                          f"file is a mapping of keys (key: value)")
    return data


def _merge(into, update, prefix=""):
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, f"{prefix}{key}.")
        else:
            into[key] = copy.deepcopy(value)
    return into


def flatten(cfg, prefix=""):
    out = {}
    for key, value in cfg.items():
        if isinstance(value, dict) and f"{prefix}{key}" not in FREE_FORM:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _under_config_dir(name):
    """The files named ``name`` anywhere under CONFIG_DIR."""
    return sorted(f for f in glob.glob(os.path.join(glob.escape(CONFIG_DIR), "**", name),
                                       recursive=True) if os.path.isfile(f))


def config_path(name):
    """The experiment file of an experiment name (``nucla_xview1_kps``, ``.yaml`` optional)
    wherever it lies under CONFIG_DIR: callers need not know the folder layout."""
    name = name if name.endswith(".yaml") else name + ".yaml"
    found = _under_config_dir(name)
    if len(found) != 1:
        where = f"{len(found)} files" if found else "no file"
        raise ConfigError(f"config {name}: {where} of that name under {CONFIG_DIR}")
    return found[0]


def _shown(path):
    """A path under the project as the docs write it (configs/...); others as they are."""
    if path is None:
        return None
    rel = os.path.relpath(path, os.path.dirname(CONFIG_DIR))
    return path if rel.startswith("..") else rel.replace(os.sep, "/")


def _moved(path, given, named_in=None):
    """An experiment file named by its path before the files went into folders
    (``configs/nucla_xview1_kps.yaml``) -> its path now, with a one-line notice on stderr the
    first time; None if ``path`` is not such a path or the name is not unique under configs/.
    The old names work until the next release."""
    given = os.path.normpath(given)
    if os.path.dirname(path) != CONFIG_DIR and (
            os.path.isabs(given) or os.path.dirname(given) != os.path.basename(CONFIG_DIR)):
        return None
    found = _under_config_dir(os.path.basename(path))
    if len(found) != 1:
        return None
    old = os.path.join(CONFIG_DIR, os.path.basename(path))
    shown_old, new, named_in = (_shown(p) for p in (old, found[0], named_in))
    where = f" (in the bases of {named_in})" if named_in else ""
    notice_once(old, f"{shown_old}{where} moved to {new}; the old name works until the next "
                     f"release")
    return found[0]


def _load_layers(path, seen=(), named_in=None):
    given, path = path, os.path.abspath(path)
    if not os.path.isfile(path):
        path = _moved(path, given, named_in)
        if path is None:
            raise ConfigError(f"config file not found: {os.path.abspath(given)}")
    if path in seen:
        raise ConfigError(f"config bases loop through {path}")
    layer = _read(path)
    bases = layer.pop("bases", [])
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError(f"{path}: bases is {bases!r}; it must be a list of config files "
                          f"relative to {CONFIG_DIR}")
    merged = {}
    for base in bases:
        _merge(merged, _load_layers(os.path.join(CONFIG_DIR, base), seen + (path,), path))
    return _merge(merged, layer)


def parse_override(text):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {text!r} is not key=value")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or " ".join(str(err).split())
        raise ConfigError(f"override {text!r}: the value is not valid YAML ({problem})") from None
    if isinstance(parsed, str) and SCIENTIFIC.match(parsed):
        parsed = float(parsed)  # YAML 1.1 reads 1e-4 (no dot) as a string
    return key.strip(), parsed


def validate(cfg, base=BASE, protocols_of=None, choices=None):
    """Check every key of ``cfg`` against ``base``: known, of its type, within its choices and
    range; ``protocols_of(dataset)`` (optional) names the protocols ``data.protocol`` may take;
    ``choices`` (optional) adds keys with their values to CHOICES."""
    choices = {**CHOICES, **(choices or {})}
    defaults = flatten(_read(base))
    for key, value in flatten(cfg).items():
        if key not in defaults:
            section = sorted(k for k in defaults if k.startswith(key + "."))
            if section:
                raise ConfigError(f"config section {key!r} takes a mapping of its keys "
                                  f"({', '.join(section)}), got {value!r}")
            close = difflib.get_close_matches(key, list(defaults), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown config key {key!r}{hint}; valid keys: "
                              f"{', '.join(sorted(defaults))}")
        check_value(key, value, defaults[key], choices)
    if protocols_of is None or "protocol" not in cfg.get("data", {}):
        return
    protocols = protocols_of(cfg["data"]["dataset"])
    if cfg["data"]["protocol"] not in protocols:
        raise ConfigError(f"config key 'data.protocol' is {cfg['data']['protocol']!r}; "
                          f"{cfg['data']['dataset']} has {', '.join(protocols)}")


def _fill(value, names, key=""):
    if isinstance(value, str):
        try:
            return value.format(**names)
        except (KeyError, IndexError, ValueError, AttributeError):
            raise ConfigError(f"config key {key!r} is {value!r}; the only placeholders are "
                              f"{{dataset}}, {{protocol}}, {{experiment}} and {{runs}} (write {{{{ for "
                              f"a brace)") from None
    if isinstance(value, dict):
        return {k: _fill(v, names, f"{key}.{k}" if key else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names, key) for v in value]
    return value


def load_config(path, overrides=(), base=BASE, protocols_of=None, derive=None, choices=None,
                rename=None):
    """The resolved config (nested dicts) of an experiment file plus overrides. The project's
    own checks come in as ``protocols_of`` and ``choices`` (see ``validate``), ``rename(cfg)``,
    which puts the current names for old ones in place before any check, and
    ``derive(cfg, error)``, which fills the keys derived from others in place and calls
    ``error(message)`` for a conflict."""
    cfg = _merge(_read(base), _load_layers(path))
    if cfg.get("experiment") is None:
        cfg["experiment"] = os.path.splitext(os.path.basename(path))[0]
    for text in overrides:
        key, value = parse_override(text)
        node, parts = cfg, key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"unknown config key {key!r}")
            node = node[part]
        node[parts[-1]] = value  # an unknown key is caught by validate() below
    if rename is not None:
        rename(cfg)
    validate(cfg, base, protocols_of, choices)
    names = dict(dataset=cfg["data"].get("dataset"), protocol=cfg["data"].get("protocol"),
                 experiment=cfg["experiment"])
    names["runs"] = _fill(cfg.get("runs", "runs"), names, "runs")
    cfg = _fill(cfg, names)
    if derive is not None:
        derive(cfg, _raise)
    return cfg


def _raise(message):
    raise ConfigError(message)


def add_config_args(parser, required=True, cpus=True):
    """The arguments every config-driven script shares: --config, key=value overrides, devices
    (--gpus, alias --gpu), MXNet's threads (common/cli.py)."""
    parser.add_argument("--config", required=required, help="an experiment config file")
    parser.add_argument("overrides", nargs="*", help="config overrides, key=value")
    cli.add_gpus_arg(parser)
    cli.add_threads_arg(parser)
    if cpus:
        parser.add_argument("--cpus", type=int,
                            help="N CPU contexts (the multi-device path on CPU)")


def or_exit(load, *args):
    """``load(*args)`` for a script's main: a bad config ends the run with its one-line error."""
    try:
        return load(*args)
    except (ConfigError, OSError) as err:
        raise SystemExit(f"error: {one_line(err)}") from None


def save_config(cfg, path):
    atomic_write_text(path, yaml.safe_dump(cfg, sort_keys=False))
