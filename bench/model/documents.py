"""The JSON documents the commands print (``--format json``): each names itself and its version.

``aiterbench_document`` says what a document is and ``document_version`` how
its fields read, bumped when a field changes meaning or goes away (a new field
does not bump it). This is not the result files' ``aiterbench_format``: those
are pyperf files, versioned in their metadata (``aiterbench._version``).
"""

from __future__ import annotations

import json
from typing import Mapping

#: Every document and its version. 1: the first versioned documents (0.3.0).
VERSIONS = {"list": 1, "timings": 1, "count": 1, "memory": 1, "profile": 1, "compare": 1, "history": 1, "explain": 1}
NAME = "aiterbench_document"
VERSION = "document_version"


def document(name: str, body: Mapping[str, object]) -> dict:
    """``body`` headed by its name and version."""
    return {NAME: name, VERSION: VERSIONS[name], **body}


def dumps(name: str, body: Mapping[str, object], **kw) -> str:
    return json.dumps(document(name, body), indent=2, **kw) + "\n"


def body(doc: Mapping[str, object]) -> dict:
    """A document without its header (to nest it in another)."""
    return {k: v for k, v in doc.items() if k not in (NAME, VERSION)}
