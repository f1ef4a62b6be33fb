"""Atomic file writes for every file the scripts produce.

A file is written to a fresh temporary name in its own folder (created with O_EXCL,
so no existing file or symlink is opened), then renamed over the target. The rename
replaces a symlink at the target instead of writing through it, and a reader never
sees half a file. Standard library only, so any script can import it.
"""
import os
import tempfile


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path, fill, binary=False, encoding="utf-8", newline=None):
    """Calls fill(f) on a new temporary file beside `path`, then renames it to `path`.
    On any error the temporary file is removed and `path` is as it was."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".tmp.")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # as a plain open() would have made it
        if binary:
            f = os.fdopen(fd, "wb")
        else:
            f = os.fdopen(fd, "w", encoding=encoding, newline=newline)
        with f:
            fill(f)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_text(path, text, encoding="utf-8", newline=None):
    write_atomic(path, lambda f: f.write(text), encoding=encoding, newline=newline)


def save_figure(fig, path, **kwargs):
    """fig.savefig(path, **kwargs), atomically; the format is taken from path's extension."""
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    write_atomic(path, lambda f: fig.savefig(f, format=fmt, **kwargs), binary=True)
