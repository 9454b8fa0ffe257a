"""Silencing C-level output: pybullet prints a build banner on import and ``argv[0]=`` on connect."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def silenced_fds(*fds: int) -> Iterator[None]:
    """Send what C code writes to the given file descriptors (1 stdout, 2 stderr) to /dev/null."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = {fd: os.dup(fd) for fd in fds}
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in fds:
            os.dup2(devnull, fd)
        yield
    finally:
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)


with silenced_fds(2):
    import pybullet  # noqa: F401  (imported once here, quietly; later imports reuse the module)
