"""Completion cannot rot: the bash and zsh completion offer each command
exactly the options its -h lists, and `make install` puts them, the man
pages and their links where bash-completion, zsh and man look."""
import pathlib
import re
import shutil
import subprocess

import pytest

from test_docs import commands, help_options

ROOT = pathlib.Path(__file__).resolve().parents[2]
BASH = ROOT / "completions" / "ssmbak.bash"
ZSH = ROOT / "completions" / "_ssmbak"
# One line per command in each file: `preview) echo "..." ;;` in bash,
# `preview) opts=(...) ;;` in zsh.
BASH_LINE = re.compile(r'^\t([a-z-]+)\) echo "([^"]*)" ;;$', re.M)
ZSH_LINE = re.compile(r"^\t([a-z-]+)\) opts=\(([^)]*)\) ;;$", re.M)


def completion_options(path, line):
    return {command: set(opts.split()) for command, opts in line.findall(path.read_text())}


def test_bash_completion_offers_the_options_of_each_commands_help(ssmbak_bin):
    offered = completion_options(BASH, BASH_LINE)
    for command in commands(ssmbak_bin):
        listed, _ = help_options(ssmbak_bin, command)
        assert offered.get(command) == listed, (command, listed ^ offered.get(command, set()))


def test_zsh_completion_offers_the_options_of_each_commands_help(ssmbak_bin):
    offered = completion_options(ZSH, ZSH_LINE)
    for command in commands(ssmbak_bin):
        listed, _ = help_options(ssmbak_bin, command)
        assert offered.get(command) == listed, (command, listed ^ offered.get(command, set()))


def test_completion_knows_every_command(ssmbak_bin):
    out = subprocess.run([ssmbak_bin, "help"], capture_output=True, text=True, check=True).stdout
    every = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    for path in (BASH, ZSH):
        listed = re.search(r"^_?(?:_ssmbak_)?commands=\(?\"?([^\")]*)", path.read_text(), re.M)
        assert listed and listed.group(1).split() == every, path.name


def complete(script, *words):
    """What the bash completion offers for the last of words."""
    line = " ".join(f"'{w}'" for w in words)
    out = subprocess.run(
        ["bash", "-c", f'source "{script}"; COMP_WORDS=({line}); '
         f'COMP_CWORD={len(words) - 1}; _ssmbak; echo "${{COMPREPLY[*]}}"'],
        capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_bash_completion_cases():
    for words, expected in [
        (("ssmbak", "pre"), ["preview"]),
        (("ssmbak", "preview", "--out"), ["--output"]),
        (("ssmbak", "preview", "/app/", "now", "--output", ""), ["table", "json"]),
        (("ssmbak", "export", "/app/", "now", "--format", "d"), ["dotenv"]),
        (("ssmbak-all", "--do"), ["--do-it"]),
        (("ssmbak-stack", "ssmbak", "st"), ["status"]),
        (("ssmbak", "stack", "ssmbak", "out"), ["outputs"]),
        (("ssmbak", "help", "ver"), ["verify", "version"]),
    ]:
        assert complete(BASH, *words) == expected, words


# compadd stands in for zsh's own: it prints what it is given (-a: the
# array's elements), and the test keeps those the word typed begins.
ZSH_HARNESS = r"""
compadd() { if [[ $1 == -a ]]; then print -l -- ${(P)2}; else print -l -- "$@"; fi }
_ssmbak() { source "$1" }
words=("${@:2}"); CURRENT=$#words; PREFIX=$words[-1]; service=${words[1]##*/}
_ssmbak "$1"
"""


def zsh_complete(*words):
    """What the zsh completion offers for the last of words."""
    out = subprocess.run(["zsh", "-f", "-c", ZSH_HARNESS, "zsh", str(ZSH), *words],
                         capture_output=True, text=True, check=True)
    return [w for w in out.stdout.split() if w.startswith(words[-1])]


def test_zsh_completion_cases():
    if not shutil.which("zsh"):
        pytest.skip("zsh is not installed (deps/install-packages test installs it)")
    for words, expected in [
        (("ssmbak", "pre"), ["preview"]),
        (("ssmbak", "preview", "--out"), ["--output"]),
        (("ssmbak", "preview", "/app/", "now", "--output", ""), ["table", "json"]),
        (("ssmbak", "restore", "/app/", "now", "--target-r"), ["--target-region"]),
        (("ssmbak", "export", "/app/", "now", "--format", "d"), ["dotenv"]),
        (("ssmbak-all", "--do"), ["--do-it"]),
        (("ssmbak-stack", "ssmbak", "st"), ["status"]),
        (("ssmbak", "stack", "ssmbak", "out"), ["outputs"]),
        (("ssmbak", "help", "ver"), ["verify", "version"]),
    ]:
        assert zsh_complete(*words) == expected, words


def test_make_install_puts_completion_and_man_links_in_place(tmp_path):
    dest = tmp_path / "root"
    make = ["make", "-s", "--no-print-directory", "-C", str(ROOT), f"DESTDIR={dest}", "PREFIX=/usr"]
    subprocess.run([*make, "install"], check=True, capture_output=True)
    usr = dest / "usr"
    bash_dir = usr / "share/bash-completion/completions"
    assert (bash_dir / "ssmbak").read_text() == BASH.read_text()
    for alias in ("ssmbak-all", "ssmbak-stack"):
        assert (bash_dir / alias).resolve() == (bash_dir / "ssmbak").resolve(), alias
        assert (usr / "bin" / alias).resolve() == (usr / "bin/ssmbak").resolve(), alias
    assert (usr / "share/zsh/site-functions/_ssmbak").read_text() == ZSH.read_text()

    out = subprocess.run(["bash", "-c", f'source "{bash_dir}/ssmbak"; '
                          "complete -p ssmbak ssmbak-all ssmbak-stack"],
                         capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [f"complete -F _ssmbak {c}" for c in
                                ("ssmbak", "ssmbak-all", "ssmbak-stack")]

    man1 = usr / "share/man/man1"
    assert (man1 / "ssmbak-all.1").read_text() == ".so man1/ssmbak-backfill.1\n"
    for page, title in [("ssmbak-all", "SSMBAK-BACKFILL(1)"), ("ssmbak-stack", "SSMBAK-STACK(1)")]:
        shown = subprocess.run(["man", "-P", "cat", page], capture_output=True, text=True,
                               env={"MANPATH": str(usr / "share/man"), "PATH": "/usr/bin:/bin",
                                    "MANWIDTH": "80"})
        assert shown.returncode == 0 and shown.stdout.lstrip().startswith(title), (page, shown)

    subprocess.run([*make, "uninstall"], check=True, capture_output=True)
    left = [p for p in dest.rglob("*") if not p.is_dir()]
    assert left == []
