"""Results kept between runs of a batch, under a hash of everything a result depends on.

The key covers the submission's bytes (its file, or every file of its directory), the
rubric's bytes, the limits, the engine and the grader's version, so a cached result is
exactly what grading again would give. The cache lives in the output directory.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import grader
from grader.batch.settings import Settings
from grader.grading.results import SubmissionResult
from grader.load.discover import content_digest


class Cache:
    def __init__(self, directory: Path, read: bool = True) -> None:
        self.directory = directory
        self.read = read  # False (--force): grade everything again, still keep the new results
        directory.mkdir(parents=True, exist_ok=True)

    def key(self, path: Path, batch: Settings) -> str | None:
        content = content_digest(path)
        if content is None:
            return None  # unreadable: grade it, and let loading say why
        digest = hashlib.sha256()
        digest.update(f"grader {grader.__version__}\0{batch.engine}\0{asdict(batch.limits)}\0".encode())
        try:
            digest.update(batch.rubric.path.read_bytes())
        except OSError:
            return None
        digest.update(content.encode())
        return digest.hexdigest()

    def get(self, key: str) -> SubmissionResult | None:
        if not self.read:
            return None
        try:
            return SubmissionResult.from_dict(json.loads((self.directory / f"{key}.json").read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, result: SubmissionResult) -> None:
        target = self.directory / f"{key}.json"
        partial = target.with_suffix(".tmp")
        partial.write_text(json.dumps(asdict(result)))
        partial.replace(target)  # never a torn entry, even if interrupted here
