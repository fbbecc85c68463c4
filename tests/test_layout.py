"""The house: entry scripts at the root (each answers --help), shared code in packages, no script
importing another's helpers, no import loop, the ground floor (common/) importing nothing of the
project, the lower floors (symbols/, data/) importing neither engine/ nor a script, the scores
(engine/metrics/) importing only the floors below them, configs/ holding YAML and data only, and
every file, script and make target the README and docs name exists."""
import ast
import contextlib
import importlib
import io
import os
import re
import sys

import pytest

from helpers import ROOT

PACKAGES = ("common", "configs", "data", "engine", "symbols", "tools")
SCRIPTS = sorted(f[:-3] for f in os.listdir(ROOT) if f.endswith(".py"))
TOOLS = sorted(f"tools.{f[:-3]}" for f in os.listdir(os.path.join(ROOT, "tools"))
               if f.endswith(".py") and '__name__ == "__main__"' in
               open(os.path.join(ROOT, "tools", f)).read())  # bench_common: the bench's parts
ORCHESTRATORS = {"demo", "demo_softargmax"} | set(TOOLS)  # they may call a stage's run()
STAGE_API = {"run", "main", "parse_args"}
# a reference to the project's tracker in code, tests or configs (not owner/name#N upstream)
ISSUE_WORDS = re.compile(r"(?<![\w/])(?:issues?|tasks?|tickets?) ?#?\d+", re.I)
DOCS = ["README.md"] + sorted(os.path.join("docs", f)
                              for f in os.listdir(os.path.join(ROOT, "docs")) if f.endswith(".md"))


def source_files():
    """{module name: path} of every project module (scripts, packages), tests excluded."""
    found = {s: os.path.join(ROOT, s + ".py") for s in SCRIPTS}
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for f in files:
                if f.endswith(".py"):
                    rel = os.path.relpath(os.path.join(folder, f), ROOT)[:-3].replace(os.sep, ".")
                    found[rel[:-len(".__init__")] if rel.endswith(".__init__") else rel] = \
                        os.path.join(folder, f)
    return found


MODULES = source_files()


def imports_of(name):
    """The project modules ``name`` imports anywhere in its file (absolute or relative), and
    the attributes it reads from each module imported whole."""
    path = MODULES[name]
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    tree = ast.parse(open(path).read())
    found, bound = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name in MODULES:
                    found.add(a.name)
                    bound[a.asname or a.name] = a.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            for a in node.names:
                full = f"{base}.{a.name}"
                if full in MODULES:
                    found.add(full)
                    bound[a.asname or a.name] = full
                elif base in MODULES:
                    found.add(base)
    used = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in bound:
            used.setdefault(bound[node.value.id], set()).add(node.attr)
    return found, used


GRAPH = {name: imports_of(name)[0] for name in MODULES}


def test_the_root_holds_entry_scripts_only():
    for script in SCRIPTS:
        text = open(MODULES[script]).read()
        assert 'if __name__ == "__main__":' in text, f"{script}.py is not an entry script"
        assert re.search(r"^def main\(", text, re.M), f"{script}.py has no main()"


@pytest.mark.parametrize("module", SCRIPTS + TOOLS)
def test_every_entry_script_answers_help(module):
    mod = importlib.import_module(module)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        mod.main(["--help"])
    assert done.value.code == 0 and out.getvalue().startswith("usage:"), module


def test_no_script_imports_another_scripts_helpers():
    scripts = set(SCRIPTS)
    for name in SCRIPTS + TOOLS:
        found, used = imports_of(name)
        for target in found & scripts:
            assert name in ORCHESTRATORS, f"{name} imports the script {target}"
            extra = used.get(target, set()) - STAGE_API
            assert target in used and not extra, \
                f"{name} uses {target}.{sorted(extra)}: only orchestrators, and only run/main"


def test_the_lower_floors_import_no_engine_tool_or_script():
    upper = set(SCRIPTS) | {m for m in MODULES if m.split(".")[0] in ("engine", "tools")}
    for name, targets in GRAPH.items():
        if name.split(".")[0] in ("symbols", "data"):
            assert not targets & upper, f"{name} imports {sorted(targets & upper)}"
        if name.split(".")[0] == "engine":
            assert not targets & (set(SCRIPTS) | set(TOOLS)), f"{name} imports a script"


def test_the_scores_import_only_the_floors_below_them():
    """engine/metrics/ imports common/, data/ and its own modules of the project, and outside it
    the standard library, numpy, pycocotools and mxnet: no training, system, stage or script."""
    allowed = {"numpy", "pycocotools", "mxnet"} | set(sys.stdlib_module_names)
    for name, targets in GRAPH.items():
        if not name.startswith("engine.metrics"):
            continue
        above = {t for t in targets if t.split(".")[0] not in ("common", "data")
                 and not t.startswith("engine.metrics")}
        assert not above, f"{name} imports {sorted(above)}"
        tree = ast.parse(open(MODULES[name]).read())
        outside = {a.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                   for a in node.names} | \
            {node.module.split(".")[0] for node in ast.walk(tree)
             if isinstance(node, ast.ImportFrom) and node.module and not node.level}
        outside -= {"common", "data", "engine"}
        assert outside <= allowed, f"{name} imports {sorted(outside - allowed)}"


def test_the_ground_floor_imports_nothing_of_the_project():
    for name, targets in GRAPH.items():
        if name.split(".")[0] == "common":
            outside = {t for t in targets if t.split(".")[0] != "common"}
            assert not outside, f"{name} imports {sorted(outside)}"


def test_configs_hold_no_code():
    code = [os.path.join(folder, f) for folder, _, files in os.walk(os.path.join(ROOT, "configs"))
            for f in files if not f.endswith((".yaml", ".json"))]
    assert not code, code


def floor_of(module):
    """The package a module belongs to: engine's sub-packages and modules count one each."""
    parts = module.split(".")
    if parts[0] not in PACKAGES:
        return "scripts"
    return ".".join(parts[:2]) if parts[0] == "engine" and len(parts) > 1 else parts[0]


def test_no_loop_between_packages():
    """Between packages (and engine's parts) the arrows go one way: no two import each other,
    even through others."""
    edges = {}
    for name, targets in GRAPH.items():
        for target in targets:
            if floor_of(name) != floor_of(target):
                edges.setdefault(floor_of(name), set()).add(floor_of(target))

    def reaches(start, goal, seen):
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n}))
                   for n in edges.get(start, ()))
    loops = sorted(f"{a} <-> {b}" for a in edges for b in edges[a] if reaches(b, a, {b}))
    assert not loops, loops


def test_no_import_loop():
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in GRAPH[node]:
            if nxt == node or nxt.startswith(node + "."):  # a package and its own modules
                continue
            if state.get(nxt) == "open":
                loop = stack[stack.index(nxt):] + [nxt]
                pytest.fail("import loop: " + " -> ".join(loop))
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"
    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])


def named_paths(text):
    """Repository paths in backticks or links: `data/loader.py`, (docs/demo.md), `configs/`."""
    found = set()
    for m in re.finditer(r"[`(]((?:\.?[\w\-]+/)*[\w\-.]+\.(?:py|md|yaml|json|sh|cff)|"
                         r"(?:[\w\-]+/)+)[`)#]", text):
        found.add(m.group(1))
    return found


MADE = ("runs/", "work/", "bench_results.json", ".venv", "results.", "per_video", "config.yaml",
        "final.yaml", "dtypes.", "pose_eval", "coco_eval", "demo_results", "keypoints_val",
        "boxes.json", "index.jsonl", "splits.json", "skipped", "metrics.jsonl", "curves",
        "confusion", "cam_", "pose_", "/data/", "demo_softargmax_results", "no_annotation",
        "ID.", "D/", "NAME", "EXPERIMENT", "OUT/", "RUNS", "DIR", "ROOT", "annotations/",
        "frames/", "labels/", "videos/", "prepared/", "checkpoints/", "poses/", "shard",
        "_frames.json", "annotation_body3d/", "...", ".int8.json", "bench_speed.json",
        "bench_ab.json")
# named in the docs as files of other projects
EXTERNAL = ("SPEC.md", "rfcn/symbols/", "tools/dataset_converters/")


def test_every_file_the_docs_name_exists():
    """A path from the repository root, the doc's folder or configs/ (a base's form); a config
    by its file name alone (`nucla_xview1_kps.yaml`, the experiment) wherever it is in configs/."""
    config_names = {f for _, _, files in os.walk(os.path.join(ROOT, "configs")) for f in files}
    missing = []
    for doc in DOCS:
        text = open(os.path.join(ROOT, doc)).read()
        for path in named_paths(text):
            if any(m in path for m in MADE) or path.startswith(EXTERNAL):
                continue
            candidates = [os.path.join(ROOT, where, path) for where in
                          (".", os.path.dirname(doc), "configs")]
            if not any(os.path.exists(c) for c in candidates) and not (
                    "/" not in path and path.endswith(".yaml") and path in config_names):
                missing.append(f"{doc}: {path}")
    assert not missing, missing


def test_every_script_module_and_make_target_the_docs_name_exists():
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", open(os.path.join(ROOT, "Makefile")).read(),
                             re.M))
    missing = []
    for doc in DOCS:
        text = open(os.path.join(ROOT, doc)).read()
        for target in re.findall(r"`make ([a-z][a-z0-9-]*)", text):
            if target not in targets:
                missing.append(f"{doc}: make {target}")
        for module in re.findall(r"python -m ([\w.]+)", text):
            if module not in MODULES:
                missing.append(f"{doc}: python -m {module}")
        for script in re.findall(r"(?:python|\$\(PY\)) ([\w/]+\.py)", text):
            if not os.path.isfile(os.path.join(ROOT, script)):
                missing.append(f"{doc}: {script}")
    assert not missing, missing


def texts():
    """The docs, every project module and test, and every config: what the repository says."""
    yield from DOCS
    yield from (os.path.relpath(p, ROOT) for p in MODULES.values())
    for top in ("tests", "configs"):
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            yield from (os.path.relpath(os.path.join(folder, f), ROOT) for f in files
                        if f.endswith((".py", ".yaml")))


def test_no_text_speaks_of_issues_or_sessions():
    """The docs name neither issues nor sessions; code, tests and configs name no issue or task
    of the project's tracker (an upstream project's, owner/name#N, is a reference and allowed)."""
    for doc in DOCS:
        text = open(os.path.join(ROOT, doc)).read()
        assert not re.search(r"issue #|session", text, re.I), doc
    found = [f"{path}: {m.group(0)}" for path in texts() if not path.endswith(".md")
             for m in [ISSUE_WORDS.search(open(os.path.join(ROOT, path)).read())] if m]
    assert not found, found


def test_the_issue_word_check_finds_what_it_should():
    issue, task = "issue " + "#18", "task" + " 5"  # built here: this file is read by the check too
    assert ISSUE_WORDS.search(f"see {issue} for the history") and ISSUE_WORDS.search(f"({task})")
    assert not ISSUE_WORDS.search("apache/mxnet#20858") and not ISSUE_WORDS.search("protocol #1")
