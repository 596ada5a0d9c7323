"""Writing into an output folder safely: the writer lock of a folder, and files that are never
written through a symlink someone planted there.

:class:`WriterLock` is an exclusive ``flock`` on a lock file, taken before anything else in the
folder is written; the operating system releases it when the holder dies, even by SIGKILL. A
process may take the lock of one file several times (nested callers): it is released when the
last holder lets go.

:func:`write_bytes` / :func:`write_text` / :func:`replace_from` / :func:`write_csv` (atomic, no
symlinks) live in the base module ``xbarsim._files``, so that layers below the sweeps write the same
way; they are re-exported here.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from xbarsim._files import refuse_symlink, replace_from, write_bytes, write_csv, write_text
from xbarsim.errors import ConfigError

__all__ = ["WriterLock", "refuse_symlink", "write_bytes", "write_text", "write_csv", "replace_from"]


class WriterLock:
    """The exclusive writer lock of an output (an ``flock`` on ``path``), as a context manager.

    Parameters
    ----------
    path : str or Path
        The lock file (created; never followed if it is a symlink).
    what, busy : str
        What the lock guards and who may hold it, for the message of a refused lock.

    Raises
    ------
    ConfigError
        From :meth:`acquire`: another process holds the lock, or the lock file is a symlink or
        cannot be created.
    """

    def __init__(self, path: str | os.PathLike[str], what: str = "", busy: str = "another running process") -> None:
        self.path = Path(path)
        self.what = what or str(self.path.parent)
        self.busy = busy
        self._fd: int | None = None

    def acquire(self) -> WriterLock:
        if self._fd is not None:
            return self
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                refuse_symlink(self.path)
            raise ConfigError(f"cannot create the lock file {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ConfigError(f"{self.what} is being written by {self.busy} (lock {self.path}); nothing was "
                              "written.") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
