"""Files named by an operator (CLI arguments, settings and matrix TOML): read bounded, never blocking.

Why not ``open(path).read()``: a path given on the command line or in a configuration may name
``/dev/zero`` (read whole, it fills memory), a FIFO without a writer or an output FIFO without a reader
(``open`` waits forever), a directory or a terminal. Here a path is opened without blocking, must be a
regular file or a pipe (process substitution, ``<(curl ...)``, is one), and is read up to a cap; anything
else is a ``ConfigurationError`` (the CLI's exit 2).
"""

from __future__ import annotations

import fcntl
import os
import stat
import sys
import tomllib
from typing import Any, BinaryIO

from fedlib.errors import ConfigurationError

MIB = 1024 * 1024

SMALL_FILE_BYTES = 4 * MIB
"""Cap on a certificate, key, settings or TOML file."""


def open_without_waiting(path: str, *, pipes: bool) -> BinaryIO:
    """``path`` opened for reading, never waiting on it: a regular file, or also a pipe when
    ``pipes`` (put back in blocking mode for the reads; a FIFO that no process has open for writing then
    reads as empty at once).

    Raises:
        ConfigurationError: it cannot be opened, or it is something else (a device, a directory, a FIFO
            when not ``pipes``).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError:  # a NUL byte in the path
        raise ConfigurationError(f"cannot read {path!r}: not a file name") from None
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISREG(mode) or (pipes and stat.S_ISFIFO(mode))):
            raise ConfigurationError(f"cannot read {path}: not a regular file")
        _blocking(fd)
        return os.fdopen(fd, "rb")
    except OSError as exc:
        os.close(fd)
        raise ConfigurationError(f"cannot read {path}: {exc.strerror}") from None
    except BaseException:
        os.close(fd)
        raise


def _blocking(fd: int) -> None:
    """Put ``fd``, opened with ``O_NONBLOCK`` so that opening it never waited, back in blocking mode."""
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)


def read_file(path: str, *, limit: int) -> bytes:
    """The bytes of ``path``, a regular file or a pipe, of at most ``limit`` bytes.

    Raises:
        ConfigurationError: unreadable, not a regular file or pipe, or over ``limit``.
    """
    with open_without_waiting(path, pipes=True) as fh:
        try:
            return _bounded(fh, limit, path)
        except OSError as exc:
            raise ConfigurationError(f"cannot read {path}: {exc.strerror}") from None


def read_toml(path: str) -> dict[str, Any]:
    """The TOML file ``path`` (settings, a matrix file), read as :func:`read_file` with ``SMALL_FILE_BYTES``.

    Raises:
        ConfigurationError: unreadable, too large, not UTF-8 or not valid TOML.
    """
    raw = read_file(path, limit=SMALL_FILE_BYTES)
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{path} is not UTF-8 text (TOML is UTF-8): byte {exc.start}") from None


def read_stdin(*, limit: int) -> bytes:
    """Standard input, at most ``limit`` bytes (ConfigurationError past it)."""
    try:
        return _bounded(sys.stdin.buffer, limit, "standard input")
    except OSError as exc:
        raise ConfigurationError(f"cannot read standard input: {exc.strerror}") from None


def _bounded(fh: BinaryIO, limit: int, what: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = fh.read(min(limit + 1 - size, MIB))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise ConfigurationError(f"{what} is larger than {limit:,} bytes, the limit for this input")
    return b"".join(chunks)


def open_for_writing(path: str, *, private: bool = False) -> BinaryIO:
    """``path`` opened to be written from its start (created, or truncated), never waiting: a FIFO without a
    reader is refused (``ENXIO``) instead of blocking. ``private``: mode 0600.

    Raises:
        ConfigurationError: it cannot be opened for writing.
    """
    try:
        fd = os.open(
            path,
            os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK | os.O_CLOEXEC,
            0o600 if private else 0o644,
        )
    except OSError as exc:
        raise ConfigurationError(f"cannot write {path}: {exc.strerror}") from None
    except ValueError:
        raise ConfigurationError(f"cannot write {path!r}: not a file name") from None
    try:
        if private and stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, 0o600)  # the file may have existed with wider permissions (never a device's mode)
        _blocking(fd)
    except OSError as exc:
        os.close(fd)
        raise ConfigurationError(f"cannot write {path}: {exc.strerror}") from None
    return os.fdopen(fd, "wb")
