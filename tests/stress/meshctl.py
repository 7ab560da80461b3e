"""meshctl.py - the control-file client the Python test programs share."""
import json
import os


def ctl(mnt, line):
    """Writes one command line to MNT/.control and reads the answer on the
    same descriptor: (True when the write succeeded, the answer as text)."""
    fd = os.open(f"{mnt}/.control", os.O_RDWR)
    try:
        try:
            os.write(fd, line.encode())
            ok = True
        except OSError:
            ok = False
        return ok, os.pread(fd, 1 << 22, 0).decode("utf-8", "replace")
    finally:
        os.close(fd)


def ctl_json(mnt, line):
    """The same, with the answer parsed; ValueError when it is not JSON."""
    ok, answer = ctl(mnt, line)
    return ok, json.loads(answer)
