"""Input files (pools, association files, exposure headers) are opened only when they are
regular files: a FIFO, a device or a link to one (``/dev/zero``) is an error naming the file,
never a hang or a read without end. Output files are written whole or not at all (:func:`replacing`)."""

from __future__ import annotations

import errno
import os
import stat
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

__all__ = ["open_regular", "open_regular_fd", "replacing"]


def open_regular_fd(path: str | os.PathLike) -> int:
    """A file descriptor open for reading on the regular file ``path`` (else an ``OSError``)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a FIFO opens without a writer
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a FIFO, a device or a folder)", os.fspath(path))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """The regular file ``path``, open for reading in binary (else an ``OSError``)."""
    return os.fdopen(open_regular_fd(path), "rb")


@contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` to write the file at: renamed to ``path`` when the block ends
    without an error, removed when it raises (the file is whole or absent)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
