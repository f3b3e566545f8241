"""Checking a stored ``.npz`` member against its zip CRC-32, once per process and file version.

seqsal reads the large members of its ``.npz`` archives by offset or as memory maps
(:func:`seqsal.io.npz_members`), past the check :mod:`zipfile` makes only when a member is read whole: a
member damaged in place (a bad disk block, bytes written over) would be read as numbers. Its CRC-32
(ISO-HDLC, zlib's) is checked when it is first opened in a process; a version of the file once checked is
not read again (the key holds its size and modification time).
"""
from __future__ import annotations

import os
import zipfile
import zlib

_CHECKED: set[tuple[str, int, int, str]] = set()
_BLOCK = 1 << 24  # bytes read per step (16 MB): memory does not grow with the member


def member_intact(path: str, info: zipfile.ZipInfo, data_offset: int) -> bool:
    """Whether the ``compress_size`` bytes of a stored member from ``data_offset`` (the first byte after its
    local zip header) have the CRC-32 its zip entry records; True at once for a file version checked before."""
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns, info.filename)
    if key in _CHECKED:
        return True
    crc, left = 0, info.compress_size
    with open(path, "rb") as handle:
        handle.seek(data_offset)
        while left > 0:
            block = handle.read(min(_BLOCK, left))
            if not block:
                return False
            crc, left = zlib.crc32(block, crc), left - len(block)
    if crc != info.CRC:
        return False
    _CHECKED.add(key)
    return True
