# aurora-restore developer commands. `make demo` and `make test` set up whatever is missing first.
PY        := .venv/bin/python
STAMP     := .venv/.installed

.PHONY: help setup system-packages demo test unit integration e2e lint template cfn-lint checkov bench build deploy clean

help:
	@echo "make demo      - run a whole nightly restore in local emulation, its timeline as it happens"
	@echo "                 (ARGS=\"--config FILE --fault SPEC --rerun --serve\"; ARGS=--help lists them)"
	@echo "make test      - lint + every test (unit, integration, e2e) + template checks"
	@echo "make template  - render template.yaml and the README's flow table (infra/, shared/routing.py)"
	@echo "make bench     - wake-ups vs polling loops on simulated nights, and N pipelines a night (~6 min)"
	@echo "make build     - sam build (needs python3.12 on PATH, e.g. PYENV_VERSION=3.11.7:3.12.1)"
	@echo "make deploy    - sam deploy --guided"

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	@touch $(STAMP)

setup: $(STAMP)

system-packages:
	@bash scripts/ensure_system_packages.sh

demo: $(STAMP) system-packages
	$(PY) -m local_runtime.demo $(ARGS)

unit: $(STAMP)
	$(PY) -m pytest tests/unit -q

integration: $(STAMP)
	$(PY) -m pytest tests/integration -q

e2e: $(STAMP)
	$(PY) -m pytest tests/e2e -q

lint: $(STAMP)
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy --explicit-package-bases shared local_runtime ops services/*/app.py infra
	$(PY) -m infra.render --check
	.venv/bin/lint-imports  # layering and no import cycle (contracts in pyproject.toml, docs/architecture.md)

# template.yaml and the README's flow table are rendered from infra/ and shared/routing.py; commit the result.
template: $(STAMP)
	$(PY) -m infra.render

cfn-lint: $(STAMP)
	.venv/bin/cfn-lint template.yaml templates/source-region-forwarder.yaml

checkov:
	bash scripts/checkov.sh

test: $(STAMP) system-packages lint cfn-lint checkov
	$(PY) -m pytest tests -q -n 2 --dist worksteal  # 2 workers (the CI machine has 2 cores); an idle one takes over queued tests

bench: $(STAMP)
	$(PY) bench/wakeup_bench.py

build:
	bash scripts/sam.sh build

deploy: build
	bash scripts/sam.sh deploy --guided

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
