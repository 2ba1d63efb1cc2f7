"""Reading and writing Python source without changing what a fix did not touch.

Encoding (PEP 263), a UTF-8 BOM, line endings (CRLF stays CRLF: the text is
never newline-translated) and permission bits all survive a rewrite, and files
are replaced atomically (temporary file in the same directory + rename).
"""

from __future__ import annotations

import codecs
import io
import os
import stat
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path

BOM = b"\xef\xbb\xbf"
# Byte order marks of encodings Python source cannot be written in (PEP 263 needs an ASCII-compatible
# encoding); UTF-32 first, as its little-endian mark starts with UTF-16's.
UNSUPPORTED_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                    (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))


def unsupported_encoding(data: bytes) -> str | None:
    """The name of the unsupported encoding `data` starts with a byte order mark of, if any."""
    return next((name for bom, name in UNSUPPORTED_BOMS if data.startswith(bom)), None)


class SourceError(Exception):
    """The file cannot be read or decoded; becomes an SES999 diagnostic."""


@dataclass
class Source:
    text: str
    encoding: str  # as declared or detected; never "utf-8-sig" (see `bom`)
    bom: bool

    @classmethod
    def from_bytes(cls, data: bytes) -> Source:
        unsupported = unsupported_encoding(data)
        if unsupported:
            raise SourceError(f"unsupported encoding: {unsupported} (byte order mark); save the file as UTF-8")
        bom = data.startswith(BOM)
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except SyntaxError as exc:
            raise SourceError(f"cannot decode file: {exc}") from None
        if encoding == "utf-8-sig":
            encoding = "utf-8"
        try:
            text = data[len(BOM):].decode(encoding) if bom else data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise SourceError(f"cannot decode as {encoding}: {exc}") from None
        return cls(text, encoding, bom)

    @classmethod
    def read(cls, path: str | Path) -> Source:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise SourceError(f"cannot read file: {exc.strerror or exc}") from None
        return cls.from_bytes(data)

    def encode(self, text: str) -> bytes:
        return (BOM if self.bom else b"") + text.encode(self.encoding)


def write_atomic(path: str | Path, data: bytes) -> None:
    """Replace `path` with `data` in one rename, keeping its permission bits."""
    path = Path(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".session-lint", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
