"""Atomic file replacement shared by every writer of the package (results, figures)."""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path"]


@contextlib.contextmanager
def atomic_path(path) -> Iterator[Path]:
    """Yield a new empty temporary file next to ``path``; move it onto ``path`` on success.

    The temporary file ``.<stem>.tmp-<pid>-<hex><suffix>`` lives in the target directory (so
    the final :func:`os.replace` is atomic) and keeps the suffix (writers that infer the
    format from it still work). When the ``with`` block finishes, the file is flushed to disk
    and renamed into place; if the block raises (including ``KeyboardInterrupt``), the
    temporary file is removed and any file already at ``path`` is left untouched. A process
    killed outright (SIGKILL, power loss) can leave its temporary file behind; the next
    successful write to the same ``path`` removes those whose process no longer exists.
    """
    path = Path(path)
    for _ in range(100):
        tmp = path.with_name(
            f".{path.stem}.tmp-{os.getpid()}-{secrets.token_hex(4)}{path.suffix}"
        )
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        break
    else:
        raise FileExistsError(f"could not create a temporary file next to {path}")
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _remove_orphans(path)


def _remove_orphans(path: Path) -> None:
    """Delete temporary files of ``path`` left by processes that no longer exist (POSIX)."""
    if os.name != "posix":
        return
    prefix = f".{path.stem}.tmp-"
    for candidate in path.parent.glob(f"{glob.escape(prefix)}*{glob.escape(path.suffix)}"):
        pid_text = candidate.name[len(prefix):].split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                candidate.unlink()
        except OSError:
            pass  # alive, owned by another user
