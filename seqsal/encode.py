"""One-hot encoding of DNA, decoding and reverse complements.

Layout everywhere: ``(4, L)`` (or ``(N, 4, L)`` for batches), channels in the
order ``A, C, G, T``. Lowercase (soft-masked) bases encode like uppercase; ``N``
and every other IUPAC code encode as all-zeros by default, or as a uniform
``0.25`` column with ``n_value=0.25``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is not imported here: decoding and encoding serve torch-free callers (the peak caller)
    import torch

ALPHABET = "ACGT"
_ALPHABET_LOWER = np.frombuffer(b"acgt", dtype=np.uint8)
IUPAC = frozenset("ACGTNRYSWKMBDHVUacgtnryswkmbdhvu")
_COMPLEMENT = str.maketrans(
    "ACGTUNRYSWKMBDHVacgtunryswkmbdhv", "TGCAANYRSWMKVHDBtgcaanyrswmkvhdb"
)
IUPAC_BYTES = "".join(sorted(IUPAC)).encode("ascii")  # bytes.translate(None, IUPAC_BYTES) leaves the others


def one_hot_encode(
    sequence: str | bytes,
    dtype: np.dtype | type = np.float32,
    n_value: float = 0.0,
) -> np.ndarray:
    """Encode one DNA sequence as a one-hot matrix.

    Parameters
    ----------
    sequence
        DNA string (any case). Bytes are taken as ASCII.
    dtype
        Output dtype. ``np.int8`` is the fastest (about 2 Gbp/s here, since it is
        a byte-wide compare written straight into the output); ``np.float32`` is
        what models take.
    n_value
        Value written into all four channels at positions that are not
        ``A/C/G/T`` (``N`` and other IUPAC codes). 0 (default) or 0.25.

    Returns
    -------
    np.ndarray
        ``(4, L)`` array, rows ``A, C, G, T``.

    Raises
    ------
    InputError
        For a character that is not an IUPAC code (a newline, space, digit, ``-``, ``Z``, a FASTA header pasted
        in), named with its position: it would otherwise become an N column and lengthen the sequence.
    ValueError
        For ``n_value`` with a byte-wide ``dtype``.
    """
    raw = _ascii(sequence) if isinstance(sequence, str) else sequence
    codes = np.frombuffer(raw if isinstance(raw, (bytes, bytearray, memoryview)) else bytes(raw), dtype=np.uint8)
    dtype = np.dtype(dtype)
    byte_wide = dtype.itemsize == 1 and dtype.kind in "iub"
    if n_value and byte_wide:
        raise ValueError("n_value needs a floating dtype; use dtype=np.float32")
    out = np.empty((4, codes.shape[0]), dtype=dtype)
    _fill_one_hot(codes, out.view(np.bool_) if byte_wide else out)
    # apidoc: "ACGT\nAC T5Z-" encoded as 13 columns, 5 of them N (bytes.translate deletes the IUPAC codes, ~1 ms
    # per Mbp: anything left is not DNA)
    left = (raw if isinstance(raw, (bytes, bytearray)) else codes.tobytes()).translate(None, IUPAC_BYTES)
    if left:
        from .errors import InputError

        where = int(np.argmax(codes == left[0]))
        raise InputError(f"character {chr(left[0])!r} at position {where} is not an IUPAC DNA code; "
                         "give the bases only (no newlines, spaces, gaps or FASTA header)")
    if n_value:
        out[:, out.sum(axis=0) == 0] = n_value
    return out


_BLOCK = 1 << 20  # bases per pass: the lower-cased block stays in cache and is never a full-length temporary


def _fill_one_hot(codes: np.ndarray, out: np.ndarray) -> None:
    """Write the one-hot of ASCII ``codes`` ``(L,)`` into ``out`` ``(4, L)`` (bool or numeric), block by block.

    Each block is lower-cased once into a reused buffer, then compared with
    ``a, c, g, t`` straight into the output rows (no ``(L,)`` temporaries:
    their page faults cost as much as the compares).
    """
    length = codes.shape[0]
    lower = np.empty(min(length, _BLOCK), dtype=np.uint8)
    for first in range(0, length, _BLOCK):
        block = codes[first:first + _BLOCK]
        lowered = lower[:block.shape[0]]
        np.bitwise_or(block, 0x20, out=lowered)  # ASCII letters -> lower case
        for k in range(4):
            np.equal(lowered, _ALPHABET_LOWER[k], out=out[k, first:first + _BLOCK], casting="unsafe")


def _ascii(sequence: str) -> bytes:
    try:
        return sequence.encode("ascii")
    except UnicodeEncodeError as exc:
        from .errors import InputError

        raise InputError(
            f"character {sequence[exc.start]!r} at position {exc.start} is not an IUPAC DNA code"
        ) from None


def one_hot_decode(one_hot: np.ndarray | torch.Tensor, unknown: str = "N") -> str:
    """Decode a ``(4, L)`` one-hot (or any score) matrix back to a string.

    Each position becomes the base of its largest channel; positions whose
    four values are all equal (all-zero or uniform 0.25) become ``unknown``.

    Parameters
    ----------
    one_hot
        ``(4, L)`` numpy array or torch tensor (any device), rows ``A, C, G, T``; values need not be 0/1.
    unknown
        One ASCII character written where the four values are all equal.

    Returns
    -------
    str
        ``L`` upper-case letters ``A``, ``C``, ``G``, ``T`` (and ``unknown``).

    Raises
    ------
    ValueError
        ``one_hot`` is not 2-D with 4 rows, or ``unknown`` is not ASCII.
    TypeError
        ``unknown`` is not a single character.
    """
    if isinstance(unknown, str) and len(unknown) == 1 and not unknown.isascii():  # review32: NumPy 2.4 wrapped it
        raise ValueError(f"unknown={unknown!r}: give one ASCII character, such as N")
    array = one_hot.detach().cpu().numpy() if hasattr(one_hot, "detach") else np.asarray(one_hot)
    if array.ndim != 2 or array.shape[0] != 4:
        raise ValueError(f"expected a (4, L) array, got shape {array.shape}")
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)[array.argmax(axis=0)]
    flat = array.max(axis=0) == array.min(axis=0)
    letters = np.where(flat, ord(unknown), letters).astype(np.uint8)
    return letters.tobytes().decode("ascii")


def reverse_complement(sequence: str) -> str:
    """Reverse complement of a DNA string; IUPAC codes map to their complements, case kept.

    Parameters
    ----------
    sequence
        DNA string (any case). ``U`` is complemented to ``A``; other characters are kept as they are (not checked).

    Returns
    -------
    str
        The reverse complement, of the same length.
    """
    return sequence.translate(_COMPLEMENT)[::-1]


def reverse_complement_one_hot(one_hot: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Reverse complement of a one-hot array ``(..., 4, L)``.

    With channels ``A, C, G, T`` the complement is the channel flip, so this
    flips the last two axes. Works on numpy arrays and torch tensors, and on
    attribution arrays of the same layout (mapping a minus-strand track back).

    Parameters
    ----------
    one_hot
        ``(..., 4, L)`` numpy array or torch tensor, channels ``A, C, G, T`` on the second-last axis.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        Of the input's type and shape: a new C-contiguous numpy array, or a new tensor on the input's device.
    """
    if hasattr(one_hot, "detach"):  # a torch tensor
        return one_hot.flip(dims=(-2, -1))
    return np.ascontiguousarray(one_hot[..., ::-1, ::-1])


def invalid_characters(sequence: str) -> list[tuple[int, str]]:
    """Positions (0-based) and characters of ``sequence`` that are not IUPAC DNA codes."""
    raw = np.frombuffer(sequence.encode("ascii", errors="replace"), dtype=np.uint8)
    valid = np.zeros(256, dtype=bool)
    valid[np.frombuffer(IUPAC_BYTES, dtype=np.uint8)] = True
    bad = np.flatnonzero(~valid[raw])
    return [(int(i), sequence[i]) for i in bad]
