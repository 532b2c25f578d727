# Ledgerline. `make run` starts the site with its worker; `make test` runs every test.
# Both install what is missing into .venv first; `make test` checks the system packages before that.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run system test lint format typecheck compose-check contracts contracts-check bench chorale-benchmark \
  audio-pretrained demo-model clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt requirements-nodeps.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-nodeps.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-nodeps.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-nodeps.txt
	touch $(VENV)/.runtime $@

run: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo
	@echo "Ledgerline on http://$(HOST):$(PORT)/  (API docs: /api/docs/)"
	$(BIN)/python tools/serve.py --host $(HOST) --port $(PORT)

# The Debian packages the tests need (npm, redis-server, chromium, ...): installed when run as root,
# otherwise named with the command that installs them.
system:
	tools/system-packages.sh

# system first: the npm targets below need npm.
test: system $(VENV)/.dev contracts-check tools/jsipfs/node_modules/.installed
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONPATH=platform $(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .

format: $(VENV)/.dev
	$(BIN)/ruff format .

typecheck: $(VENV)/.dev
	$(BIN)/mypy

# Solidity: compiled offline by npm's solc into committed artifacts (contracts/build).
# `npm install --no-save` rather than `npm ci`: this npm leaves other platforms' optional
# packages (anvil's binaries) out of the lockfile and then `npm ci` refuses that lockfile.
# It still installs the locked versions and leaves the lockfile as it is.
contracts/node_modules/.installed: contracts/package.json contracts/package-lock.json
	cd contracts && npm install --no-audit --no-fund --no-save --loglevel=error
	touch $@

# A daemon speaking the Kubo RPC API, for the IPFS tests against a real node.
tools/jsipfs/node_modules/.installed: tools/jsipfs/package.json tools/jsipfs/package-lock.json
	cd tools/jsipfs && npm install --no-audit --no-fund --no-save --loglevel=error
	touch $@

contracts: contracts/node_modules/.installed
	cd contracts && node compile.js

contracts-check: contracts/node_modules/.installed
	cd contracts && node compile.js --check

compose-check:
	docker-compose -f docker-compose.yml config -q

bench: $(VENV)/.dev
	$(BIN)/python bench/hash_throughput.py
	$(BIN)/python bench/gas.py
	$(BIN)/python bench/sampling.py
	$(BIN)/python bench/audio_vae.py
	$(BIN)/python bench/royalties.py
	$(BIN)/python bench/load.py

# The pretrained sound model of generation/audio: 8,720 random synthesised sounds (as many as the
# thesis'), the DDSP VAE (the default model) trained on them for EPOCHS passes on 2 threads. Its record (hashes,
# loss history, code version) is committed as generation/audio/pretrained.json.
AUDIO := var/audio
EPOCHS ?= 2
audio-pretrained: $(VENV)/.runtime
	rm -rf $(AUDIO)/pretraining
	$(BIN)/python -m generation.audio design $(AUDIO)/pretraining --random 8720 --seed 0
	$(BIN)/python -m generation.audio train $(AUDIO)/pretraining --out $(AUDIO)/pretrained \
	  --epochs $(EPOCHS) --batch-size 16 --threads 2
	cp $(AUDIO)/pretrained/config.json generation/audio/pretrained.json

# The demo's chorale Transformer, committed as generation/prebuilt/demo-chorales: trained from
# scratch on the built-in chorales (committed split, 800 steps, 2 threads, about 30 minutes), the
# same weights byte for byte on the same torch and CPU. `python -m generation.prebuilt check
# demo-chorales` rebuilds it under var/ and compares.
demo-model: $(VENV)/.runtime
	$(BIN)/python -m generation.prebuilt build demo-chorales

# The chorale benchmark of generation/: prepare, train both models for a CPU budget, fine-tune
# the LSTM adversarially, and write the report (var/generation/report.json and .md).
MINUTES ?= 16
RUNS := var/generation/runs
chorale-benchmark: $(VENV)/.runtime
	$(BIN)/python -m generation.data
	$(BIN)/python -m generation.train --out $(RUNS)/lstm --max-steps 100000 --max-minutes $(MINUTES) --eval-every 100
	$(BIN)/python -m generation.train --out $(RUNS)/transformer --model.kind transformer --model.n-layers 3 \
	  --seq-len 256 --max-steps 100000 --max-minutes $(MINUTES) --eval-every 50
	$(BIN)/python -m generation.adversarial $(RUNS)/lstm/checkpoint --out $(RUNS)/lstm-adversarial
	$(BIN)/python -m generation.evaluate --out var/generation/report.json \
	  --checkpoint $(RUNS)/lstm/checkpoint --checkpoint $(RUNS)/transformer/checkpoint \
	  --checkpoint $(RUNS)/lstm-adversarial/checkpoint

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache contracts/node_modules tools/jsipfs/node_modules
