"""Comparing committed generated code with a fresh generation."""

from __future__ import annotations

import filecmp
from pathlib import Path


def differences(left: Path, right: Path) -> list[str]:
    """Files that differ, or exist on one side only, between two trees (caches ignored)."""
    comparison = filecmp.dircmp(left, right, ignore=["__pycache__"])
    found = [f"{left.name}/{name}" for name in comparison.left_only + comparison.right_only]
    _, mismatch, errors = filecmp.cmpfiles(left, right, comparison.common_files, shallow=False)
    found += [f"{left.name}/{name}" for name in mismatch + errors]
    for name in comparison.common_dirs:
        found += differences(left / name, right / name)
    return found
