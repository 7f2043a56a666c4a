"""The data folder holds victims' data: the SQLite database (pseudonyms, case metadata,
sealed text) with its WAL and shared-memory files, the embedded Redis's append-only files,
socket, pid and log, and the key file. Only the service's user may read any of it.

`make_private` creates the folder 0700, or narrows an existing one and everything in it to
its owner (group and other bits cleared), so a folder made by an older version, a restore or
an operator's copy is fixed at the next start. Files made later are private by how they are
made: the database is created 0600 (SQLite gives its WAL and shared-memory files the
database's mode), redis-server runs with umask 077, and `hotline serve` sets umask 077.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from hotline.config import ConfigError

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
PRIVATE_UMASK = 0o077
_OTHERS = 0o077  # the group's and everyone else's bits


def make_private(data_dir: Path) -> None:
    """Create `data_dir` 0700, or take group and other access from it and all it holds."""
    data_dir.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    try:
        os.chmod(data_dir, PRIVATE_DIR)
        for root, dirs, files in os.walk(data_dir):
            for name in (*dirs, *files):
                _narrow(Path(root) / name)
    except PermissionError as e:
        raise ConfigError(f"storage.data_dir: cannot make {e.filename} readable by this "
                          "user only (owned by another user?)") from None


def _narrow(path: Path) -> None:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return  # gone meanwhile (a pid file, a socket)
    if stat.S_ISLNK(st.st_mode) or not st.st_mode & _OTHERS:
        return  # a link's own mode means nothing; its target is checked where it lives
    os.chmod(path, stat.S_IMODE(st.st_mode) & ~_OTHERS)


def create_private(path: Path) -> None:
    """Create `path` empty with mode 0600 if it does not exist (left as it is if it does)."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
