"""First contact with the Makefile on a machine that lacks the -dev
packages: it says nothing about packages it does not need."""
import os
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]


def make_dry_run(*targets, **env):
    return subprocess.run(["make", "-n", "--no-print-directory", "-C", str(ROOT), *targets],
                          capture_output=True, text=True, env={**os.environ, **env})


def test_no_pkg_config_noise_without_the_dev_packages():
    # PKG_CONFIG_LIBDIR pointing nowhere: pkg-config finds no package at all.
    for targets in (["demo"], ["static"], ["check"], ["help"]):
        out = make_dry_run(*targets, PKG_CONFIG_LIBDIR="/nonexistent")
        assert "was not found" not in out.stdout + out.stderr, targets
