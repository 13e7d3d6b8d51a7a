# The two commands of the README's quick start:
#   make demo   set up .venv (idempotent) and run the main job on the bundled demo images
#   make test   set up .venv (idempotent) and run the whole test suite
PYTHON ?= python3
VENV_PY := .venv/bin/python
DEMO_OUT ?= outputs/demo

.PHONY: setup demo test

setup:
	PYTHON=$(PYTHON) bash tools/setup_env.sh

demo: setup
	$(VENV_PY) tools/infer.py demo/images --masks-from demo/annotations.json \
		--pcnet-m checkpoints/pcnet_m_coco128_128k.pth \
		--pcnet-c checkpoints/pcnet_c_w025_coco128.pth --out-dir $(DEMO_OUT)
	@echo "Demo outputs written to $(DEMO_OUT)/ (pictures, content layers and JSON per image)."

test: setup
	$(VENV_PY) -m pytest tests
