"""Files written whole or not at all: through a temporary file in the same folder, renamed over
the target, so a reader never sees half a file and a full disk is an OSError naming the path."""
import errno
import hashlib
import os


def write_via_temporary(write, path, suffix="", make_parent=False):
    """``write(tmp)`` then rename ``tmp`` to ``path``. ``suffix`` ends the temporary's name for
    writers that choose a format by extension (OpenCV); ``make_parent`` creates the folder."""
    tmp = f"{path}.tmp{os.getpid()}{suffix}"
    try:
        if make_parent:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except OSError as err:
        _remove_quietly(tmp)
        # makedirs(exist_ok=True) says "File exists" when a parent is a regular file.
        code = errno.ENOTDIR if isinstance(err, FileExistsError) else err.errno or errno.EIO
        reason = os.strerror(code) if code == errno.ENOTDIR else err.strerror or str(err)
        raise OSError(code, reason, path) from None
    except BaseException:  # a failed check or an interrupt: no temporary is left behind either
        _remove_quietly(tmp)
        raise


def _remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass  # never written, or the folder is gone: nothing to clean, and the first error counts


def atomic_write_bytes(path, data, make_parent=False):
    """Write ``data`` whole to ``path`` or not at all; a short write (full disk) is an OSError."""
    def write(tmp):
        view = memoryview(data)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            done = 0
            while done < len(view):  # os.write may write less than asked
                done += os.write(fd, view[done:])
        finally:
            os.close(fd)  # raises too: network filesystems report a full disk at close
        if os.path.getsize(tmp) != len(data):
            raise OSError(errno.EIO, f"wrote {os.path.getsize(tmp)} of {len(data)} bytes")
    write_via_temporary(write, path, make_parent=make_parent)


def atomic_write_text(path, text):
    """Write via a temporary file and rename, so a reader never sees half a file."""
    atomic_write_bytes(path, text.encode("utf-8"))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()
