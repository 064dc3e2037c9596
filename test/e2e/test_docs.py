"""The documentation cannot rot: every man page passes mandoc's lint, and
each command's -h options and synopsis are the ones its man page lists."""
import pathlib
import re
import shutil
import subprocess


ROOT = pathlib.Path(__file__).resolve().parents[2]
MAN = ROOT / "man"
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])(?![\w-])")


def commands(ssmbak_bin):
    out = subprocess.run([ssmbak_bin, "help"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines()
            if line.startswith("  ") and line.split()[0] not in ("help", "version")]


def roff_text(line):
    return line.replace("\\-", "-").replace("\\fI", "").replace("\\fR", "").replace("\\fB", "")


def man_options(page):
    lines = page.read_text().splitlines()
    section, found, synopsis = None, set(), set()
    for i, line in enumerate(lines):
        if line.startswith(".SH "):
            section = line[4:].strip().strip('"')
        elif section == "OPTIONS" and line == ".TP" and i + 1 < len(lines):
            found |= set(OPTION.findall(roff_text(lines[i + 1])))
        elif section == "SYNOPSIS":
            synopsis |= set(OPTION.findall(roff_text(line)))
    return found, synopsis


def help_options(ssmbak_bin, command):
    out = subprocess.run([ssmbak_bin, command, "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    usage, _, rest = out.stdout.partition("\n\n")
    listed = set()
    for line in out.stdout.splitlines():
        if re.match(r"^\s+-", line):
            listed |= set(OPTION.findall(line.split("  ")[1] if line.startswith("  -") else line))
    return listed, set(OPTION.findall(usage))


def test_every_man_page_passes_mandoc_lint():
    mandoc = shutil.which("mandoc")
    assert mandoc, "mandoc is not installed (apt-get install mandoc; .ci/run does)"
    pages = sorted(MAN.glob("*.1"))
    assert pages
    out = subprocess.run([mandoc, "-T", "lint", "-W", "warning", *map(str, pages)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_command_has_a_man_page(ssmbak_bin):
    for command in commands(ssmbak_bin):
        assert (MAN / f"ssmbak-{command}.1").exists(), command


def test_help_and_man_list_the_same_options(ssmbak_bin):
    for command in commands(ssmbak_bin):
        listed, usage = help_options(ssmbak_bin, command)
        documented, synopsis = man_options(MAN / f"ssmbak-{command}.1")
        assert listed == documented, (command, listed ^ documented)
        assert usage == synopsis, (command, usage ^ synopsis)


# An option line of -h: "  -b, --bucket BUCKET  ..." or "      --all  ...".
OPTION_LINE = re.compile(r"^(?:  (-[a-zA-Z]), |  (?=-[a-zA-Z][ ,])|      (?=--))"
                         r"(--[a-z][a-z-]*|-[a-zA-Z])(?: ([A-Z][A-Z_=.,]*))?")


def help_option_lines(ssmbak_bin, command):
    """(spellings, takes a value) of each option line of command's -h."""
    out = subprocess.run([ssmbak_bin, command, "--help"], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        m = OPTION_LINE.match(line)
        if m:
            yield [s for s in (m.group(1), m.group(2)) if s], m.group(3) is not None


def test_every_option_in_help_is_accepted_by_its_command(ssmbak_bin):
    """Each spelling -h documents is one getopt takes (issue 19): given
    before --help, an option the command does not know stops it first."""
    tried = 0
    for command in commands(ssmbak_bin):
        for spellings, takes_value in help_option_lines(ssmbak_bin, command):
            for spelling in spellings:
                argv = [ssmbak_bin, command, spelling, *(["x"] if takes_value else []),
                        "--help"]
                out = subprocess.run(argv, capture_output=True, text=True)
                said = out.stderr
                assert "unrecognized option" not in said and "invalid option" not in said \
                    and "requires an argument" not in said, (argv[1:], said)
                tried += 1
    assert tried > 100, tried
