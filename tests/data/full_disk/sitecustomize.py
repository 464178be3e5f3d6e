"""A full disk, for the tests: a Python process started with this folder on its path whose
``ROMANASN_TEST_FULL_DISK`` is ``"CALLS PART"`` fails to make files as a full disk does, from
the CALLS-th file (through ``romanasn.folder._write_file``) whose path holds PART. The process
writing a run's files is started so (the ``full_disk`` fixture of ``tests/conftest.py``)."""

import errno
import os


def failing(real, calls: int, part: str):
    """``real`` (a file-making function), raising ENOSPC from its ``calls``-th call on a path holding ``part``."""
    seen = []

    def write(path, data):
        if part in os.fspath(path):
            seen.append(path)
            if len(seen) >= calls:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    return write


if os.environ.get("ROMANASN_TEST_FULL_DISK"):
    from romanasn import folder

    _calls, _, _part = os.environ["ROMANASN_TEST_FULL_DISK"].partition(" ")
    folder._write_file = failing(folder._write_file, int(_calls), _part)
