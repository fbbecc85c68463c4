# Action Machine and Luvizon et al.'s multitask model: set-up, tests and the papers' stages.
# `make` (or `make help`) lists every target with its line below; variables are set as
# `make eval CONFIG=configs/action_machine/nucla/nucla_xview1_kps.yaml ARGS="--gpus 0,1"`.

PYTHON ?= python3
VENV ?= .venv
MXNET ?= mxnet==1.9.1
MODEL ?= action_machine_r18
DATASET ?= synth
WORK ?= work
RAW ?= $(WORK)/$(DATASET)/raw
DETECTOR ?= $(if $(filter synth,$(DATASET)),gt,dcn_rfcn)
CONFIG ?= configs/action_machine/synth/synth_xview3_kps.yaml
ARGS ?=
SEEDS ?= 1
SEED ?=
POSE_CONFIG ?= configs/pose/coco_r50_384x288.yaml
POSE_MODEL ?=
LIST ?=
PY := $(VENV)/bin/python
VIDEO ?=
CHECKPOINT ?=
ONNX_OUT ?= $(WORK)/onnx/$(basename $(notdir $(CONFIG)))
# onnxruntime's Python 3.11 wheels need numpy >= 1.24.2, MXNet 1.9.1 needs < 1.24: the check
# runs in a second environment with only these (tools/check_onnx.py imports nothing else).
VENV_ONNX ?= .venv-onnx
ONNX_CHECK_PACKAGES ?= onnxruntime==1.22.1 numpy==1.26.4 onnx==1.18.0

.PHONY: help install test test-shuffled demo summary prepare detect detect-coco train-action eval \
	train-pose eval-coco pseudo-poses bench bench-dist clean demo-video onnx onnx-env demo-bf16 \
	demo-softargmax bench-ab

help: ## this list
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-z][a-z0-9-]*:[^#]*## / {printf "  make %-16s %s\n", $$1, $$2}' \
		$(MAKEFILE_LIST)

install: $(VENV)/.installed ## .venv with MXNet 1.9.1 (CPU; GPU: MXNET=mxnet-cu112); PYTHON=... picks the interpreter

# tools/find_python.sh: PYTHON if MXNet 1.9.1's pins install on it (3.10, 3.11), else the
# newest such python3.X on PATH, else one line saying which versions work.
$(VENV)/.installed: requirements.txt Makefile
	@py=$$(bash tools/find_python.sh "$(PYTHON)") && echo "$$py -m venv $(VENV)" && \
	  "$$py" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(MXNET)" -r requirements.txt
	$(PY) -c "import mxnet, gluoncv, cv2, pycocotools, decord; print('mxnet', mxnet.__version__, 'ok')"
	touch $@

test: install ## the test suite (CPU, no downloads), in file order
	$(PY) -m pytest -q -p no:randomly tests

test-shuffled: install ## the suite in a random order (SEED=N repeats one)
	$(PY) -m pytest -q -p randomly $(if $(SEED),--randomly-seed=$(SEED)) tests

demo: install ## the whole pipeline on the synthetic benchmark -> table, claims (SEEDS=5: over seeds)
	$(PY) demo.py --seeds $(SEEDS)

demo-softargmax: install ## Luvizon et al.'s model and the soft-argmax decoder on the same benchmark
	$(PY) demo_softargmax.py

prepare: install ## resize videos, index, splits (DATASET=nucla RAW=/data/N-UCLA; custom: LIST=list.csv)
	$(PY) -m data.prepare --dataset $(DATASET) --raw $(RAW) --out $(WORK)/$(DATASET)/prepared \
		$(if $(LIST),--list $(LIST)) $(ARGS)

detect: install ## person boxes of every video (DATASET=nucla; synth: the ground truth)
	$(PY) detect_persons.py --dataset $(DATASET) --prepared $(WORK)/$(DATASET)/prepared \
		--detector $(DETECTOR) $(ARGS)

detect-coco: install ## person boxes on COCO val2017 (eval-coco's boxes)
	$(PY) detect_persons.py --images $(WORK)/coco/val2017 \
		--ann $(WORK)/coco/annotations/person_keypoints_val2017.json $(ARGS)

train-action: install ## train a video model (CONFIG=configs/action_machine/nucla/nucla_xview1_kps.yaml ARGS="...")
	$(PY) train_action.py --config $(CONFIG) $(ARGS)

eval: install ## test a video model with the paper's protocol (CONFIG=...)
	$(PY) eval_action.py --config $(CONFIG) $(ARGS)

train-pose: install ## train the 2D pose model (POSE_CONFIG=configs/pose/...)
	$(PY) train_pose.py --config $(POSE_CONFIG) $(ARGS)

eval-coco: install ## COCO keypoint AP of the pose model (POSE_CONFIG=...)
	$(PY) eval_coco.py --config $(POSE_CONFIG) $(ARGS)

pseudo-poses: install ## pose labels for every frame (DATASET=nucla; POSE_MODEL=gluoncv:NAME)
	$(PY) pseudo_poses.py $(if $(POSE_MODEL),--pose-model $(POSE_MODEL),--config $(POSE_CONFIG)) \
		--prepared $(WORK)/$(DATASET)/prepared \
		--boxes $(WORK)/$(DATASET)/boxes.json --out $(WORK)/$(DATASET)/poses $(ARGS)

summary: install ## per-stage shapes, parameters and MACs (MODEL=action_machine_r18)
	$(PY) -m symbols $(MODEL)

clean: ## remove the virtual environments
	rm -rf $(VENV) $(VENV_ONNX) .pytest_cache

demo-video: install ## box, poses and top-5 on any video (VIDEO=clip.mp4)
	@test -n "$(VIDEO)" || { echo "error: give a video: make demo-video VIDEO=clip.mp4"; exit 1; }
	$(PY) demo_video.py "$(VIDEO)" $(ARGS)

onnx-env: $(VENV_ONNX)/.installed ## the second venv with onnxruntime for make onnx

$(VENV_ONNX)/.installed: Makefile
	$(PYTHON) -m venv $(VENV_ONNX)
	$(VENV_ONNX)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_ONNX)/bin/python -m pip install --quiet $(ONNX_CHECK_PACKAGES)
	$(VENV_ONNX)/bin/python -c "import onnxruntime as o, numpy as n; print('onnxruntime', \
		o.__version__, 'numpy', n.__version__, 'ok')"
	touch $@

onnx: install onnx-env ## ONNX export of CONFIG, checked in onnxruntime against MXNet
	$(PY) export_onnx.py --config $(CONFIG) $(if $(CHECKPOINT),--checkpoint $(CHECKPOINT)) \
		--out $(ONNX_OUT) $(ARGS)
	$(VENV_ONNX)/bin/python -m tools.check_onnx $(ONNX_OUT)

bench: install ## latency, GFLOP/s, training step, memory, loader -> bench_results.json
	$(PY) -m tools.bench --out bench_results.json
	$(PY) -m tools.bench_speed --out bench_speed.json

# Another commit's code (side A) against this checkout's (side B), one call of each in turn:
# tools/bench_ab.py. ARGS go to it (--model, --variant, --calls, --env-a/--env-b KEY=VALUE).
BASE ?=
bench-ab: install ## BASE=<commit>'s code against this checkout's, call by call -> bench_ab.json
	@test -n "$(BASE)" || { echo "make bench-ab needs BASE=<commit>, for example BASE=HEAD~1"; exit 2; }
	@git rev-parse --verify -q "$(BASE)^{commit}" > /dev/null || \
	  { echo "BASE=$(BASE) is not a commit of this repository"; exit 2; }
	rm -rf "$(WORK)/bench_ab_base" && mkdir -p "$(WORK)/bench_ab_base"
	git archive -o "$(WORK)/bench_ab_base.tar" "$(BASE)"
	tar -xf "$(WORK)/bench_ab_base.tar" -C "$(WORK)/bench_ab_base" && rm "$(WORK)/bench_ab_base.tar"
	$(PY) -m tools.bench_ab --base "$(WORK)/bench_ab_base" --base-name "$(BASE)" $(ARGS)

demo-bf16: install ## the demo's checkpoints in float32 and bfloat16 (after make demo)
	$(PY) -m tools.compare_dtypes $(ARGS)

demo-int8: install ## the demo's checkpoints in float32 and int8 (after make demo)
	$(PY) -m tools.compare_dtypes --dtype int8 $(ARGS)

# Steps/s of a dist_sync job on loopback: epochs after the first (warm-up), from metrics.jsonl.
DIST_CONFIG ?= configs/action_machine/synth/synth_xview3_rgb_person_crop.yaml
DIST_ARGS ?=
STEPS_PER_SECOND := import json, sys; e = [json.loads(l) for l in open(sys.argv[1])]; \
	steps = sum(1 for l in e if l["kind"] == "step" and l["epoch"] > 0); \
	secs = sum(l["seconds"] for l in e if l["kind"] == "epoch" and l["epoch"] > 0); \
	print(f"{sys.argv[2]} worker(s): {steps / secs:.2f} steps/s ({steps} steps in {secs:.1f} s)")
bench-dist: install ## steps/s of 1 and 2 dist_sync workers on loopback
	for n in 1 2; do rm -rf $(WORK)/bench_dist/n$$n; \
	  $(PY) launch.py -n $$n -s 1 --local -- $(PY) train_action.py --config $(DIST_CONFIG) \
	    --kvstore dist_sync out=$(WORK)/bench_dist/n$$n train.epochs=8 train.log_interval=1 \
	    data.workers=0 $(DIST_ARGS) > $(WORK)/bench_dist_n$$n.log 2>&1 || \
	    { tail -3 $(WORK)/bench_dist_n$$n.log; exit 1; }; \
	  $(PY) -c '$(STEPS_PER_SECOND)' $(WORK)/bench_dist/n$$n/metrics.jsonl $$n; done
