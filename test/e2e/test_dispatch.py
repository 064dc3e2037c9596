"""One binary, many names: argv[0] or the first word picks the command;
help, version and usage errors behave the same everywhere."""
import os
import subprocess

import pytest


def call(binary, *args, argv0=None):
    argv = [argv0 or binary, *args]
    return subprocess.run(argv, executable=binary, capture_output=True, text=True, timeout=30,
                          env={"PATH": os.environ["PATH"], "HOME": "/nonexistent"})


@pytest.fixture
def real_bin(ssmbak_bin):
    # argv[0] dispatch needs the binary itself, not a wrapper script
    path = os.path.realpath(ssmbak_bin)
    with open(path, "rb") as f:
        if f.read(4) != b"\x7fELF":
            pytest.skip("SSMBAK_BIN is a wrapper script; argv[0] cannot pass through it")
    return path


def test_version(real_bin):
    out = call(real_bin, "--version")
    assert out.returncode == 0 and out.stdout.startswith("ssmbak ")
    assert call(real_bin, "version").stdout == out.stdout


def test_no_command_is_a_usage_error(real_bin):
    out = call(real_bin)
    assert out.returncode == 2 and "usage: ssmbak COMMAND" in out.stderr and out.stdout == ""


def test_unknown_command(real_bin):
    out = call(real_bin, "frobnicate")
    assert out.returncode == 2
    assert out.stderr.splitlines()[0] == "ssmbak: unknown command 'frobnicate'"


@pytest.mark.parametrize("argv0, command", [
    ("ssmbak-all", "backfill"), ("ssmbak-stack", "stack"), ("bootstrap", "backup-lambda")])
def test_aliases_by_argv0(real_bin, argv0, command):
    via_alias = call(real_bin, "--help", argv0=f"/some/dir/{argv0}")
    direct = call(real_bin, command, "--help")
    if direct.returncode == 2 and "unknown command" in direct.stderr:
        pytest.skip(f"{command} is not built into this binary yet")
    assert via_alias.returncode == 0, via_alias.stderr
    assert via_alias.stdout == direct.stdout


def test_help_for_each_command(real_bin):
    listing = call(real_bin, "help").stdout
    commands = [l.split()[0] for l in listing.splitlines() if l.startswith("  ")]
    assert {"preview", "restore", "backup-lambda", "help", "version"} <= set(commands)
    for command in commands:
        if command in ("help", "version"):
            continue
        by_help = call(real_bin, "help", command)
        by_flag = call(real_bin, command, "-h")
        assert by_help.returncode == 0 and by_flag.returncode == 0
        assert by_help.stdout == by_flag.stdout and by_help.stdout.startswith("usage: ")


def test_unknown_option_names_it(real_bin):
    out = call(real_bin, "preview", "--frobnicate", "/a", "now")
    assert out.returncode == 2
    assert "--frobnicate" in out.stderr and out.stdout == ""
