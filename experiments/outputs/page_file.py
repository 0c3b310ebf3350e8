"""Where the latent explorer's page goes: a file, replaced whole and only if it is an earlier page, or a stream
(--out /dev/stdout, a FIFO, a device), written once and never read back."""
import os
import re
import stat
import sys

from experiments.errors import Fault

MARK = '<script id="data" type="application/json">'      # what every explorer page holds


def check_output(out):
    """Whether out is a stream (is_stream) rather than a file to replace; refuses an output the page could not be
    written to, or one that would replace another kind of file."""
    if is_stream(out):
        if not os.access(out, os.W_OK):
            raise Fault(f"--out {out}: not open, or cannot be written")
        return True
    if out.is_dir():
        raise Fault(f"--out {out}: is a folder; give the HTML file to write")
    if not out.parent.is_dir():
        raise Fault(f"--out {out}: its folder {out.parent} does not exist")
    if not os.access(out.parent, os.W_OK):
        raise Fault(f"--out {out}: its folder {out.parent} cannot be written")
    if out.exists():
        try:
            ours = MARK in out.read_text(errors="replace")
        except OSError:
            ours = False
        if not ours:
            raise Fault(f"--out {out}: exists and is not a latent explorer page; choose another file")
    return False


def is_stream(out):
    """Whether out is a stream to write once, never to read back or replace: a FIFO, a device (a terminal, /dev/null),
    a socket, or any name in /dev or of an open descriptor (/dev/stdout, /dev/fd/N), whatever it is open on (> page.html
    too): run.py makes no file there."""
    try:
        mode = os.stat(out).st_mode
    except OSError:
        mode = None
    folder = os.path.realpath(os.path.dirname(os.path.abspath(out)))
    device = folder == "/dev" or re.fullmatch(r"/proc/[^/]+/fd", folder) is not None
    return not (mode and stat.S_ISDIR(mode)) and (device or bool(mode and not stat.S_ISREG(mode)))


def stdout_descriptor(out):
    """The descriptor of run.py's standard output where the stream out is it (--out /dev/stdout), else None."""
    try:
        descriptor = sys.stdout.fileno()
        return descriptor if os.path.samestat(os.stat(out), os.fstat(descriptor)) else None
    except (OSError, AttributeError, ValueError):       # no stdout, or one that is not a file (a test's capture)
        return None


def write_stream(out, data, descriptor=None):
    """data written once to the stream out, through descriptor where given (stdout's), else opened for appending; a
    reader that stops early (--out /dev/stdout | head) is answered in one line."""
    written = 0
    try:
        if descriptor is not None and sys.__stdout__ is not None:
            sys.__stdout__.flush()                      # anything printed before the page comes before it
        with open(out, "ab", 0) if descriptor is None else open(os.dup(descriptor), "wb", 0) as handle:
            while written < len(data):
                written += handle.write(memoryview(data)[written:written + (1 << 20)]) or 0
    except BrokenPipeError:
        raise Fault(f"--out {out}: its reader closed it after {written} of the page's {len(data)} bytes") from None
    except OSError as error:
        raise Fault(f"--out {out}: could not be written ({error.strerror or error}) after {written} of the page's "
                    f"{len(data)} bytes") from None
