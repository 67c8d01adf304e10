"""The base of every pydantic model of the project: its validation schema is built on first use, not at import.

Cold start (docs/architecture.md, README "Cold start"): pydantic builds a model's core schema when the class is
defined unless `defer_build` is set, and each function uses only some of the ~60 models it imports (the RDS views
of the steps it does not run, the preflight's, the evidence record's ...). Deferred, a model is built the first
time it validates or serialises, so a function never pays for the ones it does not use; the ones it does use are
built during its first invocation (https://docs.pydantic.dev/latest/api/config/#pydantic.config.ConfigDict.defer_build).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(defer_build=True)
