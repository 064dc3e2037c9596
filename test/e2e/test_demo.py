"""make demo cannot rot: the quickstart script runs end to end against its
own localaws, and its transcript shows what the seed README promises."""
import os
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_quickstart_transcript():
    static = ROOT / "build" / "ssmbak-static"
    if not static.exists():
        pytest.fail("build/ssmbak-static is not built: run `make check` (the stack deploys it)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["SSMBAK"] = str(static)
    out = subprocess.run([str(ROOT / "demo" / "quickstart")], env=env, capture_output=True,
                         text=True, timeout=300)
    transcript = out.stdout + out.stderr
    assert out.returncode == 0, transcript[-3000:]
    assert "CREATE_COMPLETE  ssmbak  AWS::CloudFormation::Stack" in transcript
    assert "ParameterNotFound" in transcript
    row = re.search(r"^\| /testoossmbak/deep/yay \| hihi  \| String \| "
                    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00 \|$", out.stdout, re.M)
    assert row, out.stdout
    after_restore = out.stdout.split("% ssmbak restore", 1)[1]
    assert re.search(r"^PARAMETER\t.*\t/testoossmbak/deep/yay\tString\thihi\t", after_restore,
                     re.M), after_restore
    assert re.search(r"bootstrap: /testoossmbak/deep/yay Delete .*stored", transcript)
    assert "REPORT RequestId:" in transcript
    assert "# done" in out.stdout
    # everything it started is stopped
    left = subprocess.run(["pgrep", "-f", "ssmbak-demo"], capture_output=True, text=True)
    assert left.stdout == ""
