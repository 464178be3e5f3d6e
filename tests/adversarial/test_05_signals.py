"""#16.5: SIGTERM and SIGHUP stop a run as SIGINT does: undone before the commit, finished after
it, a clear line, and no journal or staging folder left behind."""

import signal
import subprocess
import sys

import pytest

SENDER = """
import os, signal, sys
from romanasn import encoder, folder
from romanasn.cli import main

number, where = getattr(signal, sys.argv[1]), sys.argv[2]
real_forward, calls = folder._roll_forward, []

def counted(real):  # the signal comes at the fifth file made (checked, in either lane)
    def function(*args):
        calls.append(1)
        if where == "writing" and len(calls) == 5:
            os.kill(os.getpid(), number)
        return real(*args)
    return function

def forward(*args, **kwargs):
    if where == "commit":
        os.kill(os.getpid(), number)
    return real_forward(*args, **kwargs)

encoder.check_file, encoder.Encoder.encode = counted(encoder.check_file), counted(encoder.Encoder.encode)
folder._roll_forward = forward
sys.exit(main(sys.argv[3:]))
"""


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP", "SIGINT"])
@pytest.mark.parametrize("where", ["writing", "commit"])
def test_a_signal_undoes_or_finishes_the_run_and_says_so(run, pool, tmp_path, snapshot, name, where):
    out = tmp_path / "D"
    assert run("generate", pool, "-o", out, "-q")[0] == 0
    complete = snapshot(out)
    (out / "r00001_p_full_f158_asn.json").unlink()  # so that the run both adds and replaces
    before = snapshot(out)
    script = tmp_path / "sender.py"
    script.write_text(SENDER)
    args = [sys.executable, str(script), name, where, "generate", str(pool), "-o", str(out), "-q", "--overwrite"]
    done = subprocess.run(args, capture_output=True, text=True)
    number = getattr(signal, name)
    assert done.returncode == 128 + number, done.stderr  # 130 for SIGINT, 143 for SIGTERM
    assert f"romanasn: interrupted ({name}): the output folder holds the whole run or none of it" in done.stderr
    after = snapshot(out)
    if where == "writing":
        assert after == before
    else:  # past the commit: finished (the run report says when, so only the names are compared)
        assert after.keys() == complete.keys()
