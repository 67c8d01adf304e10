"""The pipelines document as an operator handles it: where it lives, and the check it passes before it goes live
(every problem of `shared.config`, plus what SSM Parameter Store accepts). Pure: no AWS call.

Where it lives: the functions read `/aurora-restore/<env>/pipelines`, which only the operator writes (`python -m ops
config push`); the stack owns `/aurora-restore/<env>/pipelines.seed`, rendered from its parameters and read only
while the operator's document does not exist. CloudFormation rewrites a parameter it owns whenever its Value
changes, so an operator's edit of a stack-owned document would be lost on the next deploy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

from shared.config import config_problems

# SSM Parameter Store value limits: Standard 4 KB (free), Advanced 8 KB (charged); "Standard tier parameters
# support a maximum parameter value of 4096 characters". Counted here in UTF-8 bytes, which is never fewer.
# https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html
STANDARD_LIMIT = 4096
ADVANCED_LIMIT = 8192

Tier = Literal["Standard", "Advanced"]


def document_parameter(environment: str) -> str:
    """The operator's document, read first (never created or updated by the stack)."""
    return f"/aurora-restore/{environment}/pipelines"


def seed_parameter(environment: str) -> str:
    """The stack's seed (`PipelinesConfig` in the template), read while the operator's document does not exist."""
    return f"{document_parameter(environment)}.seed"


@dataclass(frozen=True)
class DocumentCheck:
    problems: list[str]  # empty: the document may go live
    compact: str = ""  # the document as it is written to SSM (no insignificant whitespace)
    notes: list[str] = field(default_factory=list)  # worth knowing, not wrong

    @property
    def size(self) -> int:
        return len(self.compact.encode("utf-8"))

    @property
    def tier(self) -> Tier:
        return "Standard" if self.size <= STANDARD_LIMIT else "Advanced"


def check_document(text: str) -> DocumentCheck:
    """Every problem of `text` as a pipelines document (pydantic errors with their paths, cross-field and
    cross-pipeline checks) and whether SSM can hold it."""
    problems = config_problems(text)
    try:
        compact = json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)
    except json.JSONDecodeError:
        return DocumentCheck(problems)
    check = DocumentCheck(problems, compact)
    if check.size > ADVANCED_LIMIT:
        problems.append(
            f"<document>: {check.size} bytes once compacted; an SSM parameter holds at most {ADVANCED_LIMIT} "
            "(Advanced tier): shorten the SQL or the user lists"
        )
    elif check.tier == "Advanced":
        check.notes.append(
            f"{check.size} bytes: more than the Standard tier's {STANDARD_LIMIT}, so the parameter becomes an "
            "Advanced one (charged per parameter and month; it can never go back to Standard)"
        )
    return check
