"""Dev tooling that renders `template.yaml` (see `infra/render.py`); not deployed."""
