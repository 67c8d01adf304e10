"""`aurora-restore config validate|push`: check a pipelines document before it goes live, then write it where the
functions read it (`/aurora-restore/<env>/pipelines`, which no deploy overwrites). A document with any problem is
never written; the one live keeps working."""

from __future__ import annotations

from typing import Protocol, TextIO

from shared.config_document import DocumentCheck, check_document, document_parameter, seed_parameter


class DocumentStore(Protocol):
    """What the commands need of SSM Parameter Store (shared.aws.parameters.ParameterStore)."""

    def read(self, name: str) -> str | None: ...
    def write(self, name: str, value: str, description: str) -> int: ...


def report(check: DocumentCheck, source: str, out: TextIO) -> int:
    """Print every problem (exit 1) or the verdict (exit 0)."""
    if check.problems:
        out.write(f"{source}: {len(check.problems)} problem(s); not valid\n")
        for problem in check.problems:
            out.write(f"  - {problem}\n")
        return 1
    out.write(f"{source}: valid ({check.size} bytes, SSM {check.tier} tier)\n")
    for note in check.notes:
        out.write(f"  note: {note}\n")
    return 0


def live_document(store: DocumentStore, environment: str) -> tuple[str, str] | None:
    """(parameter name, document) the functions read now: the operator's, else the stack's seed."""
    for name in (document_parameter(environment), seed_parameter(environment)):
        text = store.read(name)
        if text is not None:
            return name, text
    return None


def validate(text: str | None, environment: str, store: DocumentStore | None, out: TextIO) -> int:
    """Check a file's document, or (no file) the document live in the environment."""
    if text is not None:
        return report(check_document(text), "document", out)
    assert store is not None
    live = live_document(store, environment)
    if live is None:
        out.write(f"no document in {document_parameter(environment)} nor {seed_parameter(environment)}\n")
        return 1
    name, live_text = live
    return report(check_document(live_text), name, out)


def push(text: str, environment: str, store: DocumentStore, out: TextIO) -> int:
    """Validate, then write the compact document to the operator's parameter. Nothing is written on a problem."""
    check = check_document(text)
    if report(check, "document", out):
        out.write("nothing pushed; the live document is unchanged\n")
        return 1
    name = document_parameter(environment)
    version = store.write(name, check.compact, "aurora-restore pipelines document (aurora-restore config push)")
    out.write(
        f"pushed to {name} (version {version}); running functions pick it up within 5 minutes. "
        "The stack never overwrites it; its seed is no longer read.\n"
    )
    return 0
