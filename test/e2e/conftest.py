"""Shared fixtures: the binaries under test and a running localaws."""
import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def built(path):
    p = ROOT / path
    if not p.exists():
        pytest.fail(f"{path} is not built: run `make check` (or `make {path}`)")
    return str(p)


@pytest.fixture(scope="session")
def sigv4_sign():
    return built("build/sigv4-sign")
