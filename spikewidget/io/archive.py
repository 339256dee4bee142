"""The arrays of a saved profile, read from its zip without trusting it.

A profile may come from anyone, so nothing in it is believed before it is checked:
the zip's directory is read first, and every member must be an uncompressed or
deflated, unencrypted ``.npy`` whose declared size fits the caller's byte budget;
all declared sizes together are checked before anything is decompressed (a deflate
bomb is refused from its directory). An array is only read after its ``.npy`` header
(dtype, shape) matched what the metadata says it must be, and its bytes are read in
bounded chunks. Every failure is a :class:`ProfileFormatError` naming the file.
"""

from __future__ import annotations

import zipfile
from typing import IO, Any

import numpy as np

from ..core.errors import ProfileFormatError

_ALLOWED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_ENCRYPTED = 0x1
_CHUNK = 1 << 24  # bytes read at a time


class Archive:
    """An open profile zip: ``names`` are its members without ``.npy``.

    ``max_bytes`` bounds the sum of every member's declared (uncompressed) size;
    ``name`` is the file's name for messages.
    """

    def __init__(self, source: IO[bytes], name: str, max_bytes: int) -> None:
        self.name = name
        try:
            self._zip = zipfile.ZipFile(source)
        except zipfile.BadZipFile as exc:
            raise ProfileFormatError(f"{name}: not a spikewidget profile (not a zip "
                                     f"archive: {exc})") from exc
        except NotImplementedError as exc:  # e.g. "zip file version 9.9"
            raise ProfileFormatError(f"{name}: not a readable spikewidget profile "
                                     f"(unsupported zip: {exc})") from exc
        self._members: dict[str, zipfile.ZipInfo] = {}
        self._read: set[str] = set()
        total = 0
        for info in self._zip.infolist():
            if not info.filename.endswith(".npy") or info.filename[:-4] in self._members:
                raise ProfileFormatError(f"{name}: unexpected member {info.filename!r} "
                                         f"(a profile holds distinct .npy arrays only)")
            if info.flag_bits & _ENCRYPTED:
                raise ProfileFormatError(f"{name}: member {info.filename!r} is encrypted; "
                                         f"spikewidget never writes encrypted profiles")
            if info.compress_type not in _ALLOWED_COMPRESSION:
                raise ProfileFormatError(
                    f"{name}: member {info.filename!r} uses zip compression method "
                    f"{info.compress_type}; profiles are stored or deflated")
            total += info.file_size
            self._members[info.filename[:-4]] = info
        self.declared_bytes = total
        if total > max_bytes:
            raise ProfileFormatError(
                f"{name}: the file declares {total:,} bytes of arrays, more than the "
                f"limit of {max_bytes:,} bytes (pass max_bytes= or --max-bytes to load a larger "
                f"profile you trust)")

    @property
    def names(self) -> set[str]:
        return set(self._members)

    def size(self, key: str) -> int:
        """The declared (uncompressed) size of member ``key`` in bytes."""
        return self._members[key].file_size

    def close(self) -> None:
        self._zip.close()

    def unread(self) -> set[str]:
        """Members no :meth:`array` call has read: in a whole load, none (a damaged
        member name would otherwise load as an absent, optional array)."""
        return set(self._members) - self._read

    def array(self, key: str, dtype: np.dtype, shape: tuple[int | None, ...],
              what: str, max_first: int | None = None) -> np.ndarray:
        """Member ``key`` as an array of exactly ``dtype``; ``shape`` may hold None
        for an axis whose length the metadata does not fix (bounded by the member's
        declared size, which was budgeted), ``max_first`` bounds the first axis.
        ``what`` names it in messages."""
        info = self._members.get(key)
        if info is None:
            raise ProfileFormatError(f"{self.name}: {what} is missing (no array {key!r})")
        self._read.add(key)
        with self._zip.open(info) as fh:
            got_dtype, got_shape, fortran = _header(fh, self.name, key)
            if got_dtype != dtype or len(got_shape) != len(shape) or any(
                    want is not None and got != want
                    for got, want in zip(got_shape, shape, strict=True)) or (
                    max_first is not None and got_shape[0] > max_first):
                raise ProfileFormatError(
                    f"{self.name}: {what} is an array of {got_dtype} with shape "
                    f"{got_shape}; expected {np.dtype(dtype)} with shape "
                    f"{tuple('any' if s is None else s for s in shape)}"
                    + ("" if max_first is None else f", at most {max_first} on the first "
                                                    f"axis"))
            count = 1
            for d in got_shape:
                count *= d
            nbytes = count * dtype.itemsize
            if fh.tell() + nbytes != info.file_size:
                raise ProfileFormatError(
                    f"{self.name}: {what} declares {nbytes:,} bytes of data but its "
                    f"member holds {info.file_size - fh.tell():,}")
            out = np.empty(count, dtype=dtype)
            view = memoryview(out.view(np.uint8))
            done = 0
            while done < nbytes:
                chunk = fh.read(min(_CHUNK, nbytes - done))
                if not chunk:
                    raise ProfileFormatError(f"{self.name}: {what} is truncated")
                view[done:done + len(chunk)] = chunk
                done += len(chunk)
            if fh.read(1):  # reading to the end also checks the member's CRC
                raise ProfileFormatError(f"{self.name}: {what} is longer than declared")
        if dtype == np.bool_:  # any non-zero byte is a spike, as the writer meant
            out = out.view(np.uint8) != 0
        return out.reshape(got_shape, order="F" if fortran else "C")


def _header(fh: Any, name: str, key: str) -> tuple[np.dtype, tuple[int, ...], bool]:
    """The dtype, shape and order of an ``.npy`` stream, refusing object dtypes."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(fh)
        else:
            raise ValueError(f"npy version {version}")
    except (ValueError, EOFError, SyntaxError, TypeError) as exc:
        raise ProfileFormatError(f"{name}: member {key!r} is not a valid .npy array "
                                 f"({exc})") from exc
    if any(d < 0 for d in shape):
        raise ProfileFormatError(f"{name}: member {key!r} has a negative shape {shape}")
    if dtype.hasobject:
        raise ProfileFormatError(f"{name}: member {key!r} holds Python objects; profiles "
                                 f"never do (nothing in it is unpickled)")
    return dtype, tuple(int(d) for d in shape), bool(fortran)
