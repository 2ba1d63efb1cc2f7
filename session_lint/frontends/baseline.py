"""Baselines: record today's findings, then report only new ones (`--write-baseline` / `--baseline`).

A finding is matched by a fingerprint that survives unrelated edits: its path (relative
to the baseline file), its code, the whitespace-normalised text of the offending
line(s), and its occurrence index among findings with the same three values. Moving
code up or down does not change a fingerprint; editing the offending line does (that
finding is new), and a third identical finding where the baseline had two is new.
The file is JSON, sorted and without line numbers, so it diffs cleanly.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError
from ..diagnostics import Diagnostic
from .output import SourceLines

VERSION = 1
MAX_MATCHED_LINES = 5  # longer ranges (a whole `with` block) are matched by their first line

Key = tuple[str, str, str, int]  # (path, code, text, occurrence)


def _relative(path: str, base: Path) -> str:
    p = Path(path)
    try:
        return p.resolve().relative_to(base.resolve()).as_posix()
    except (ValueError, OSError):
        return Path(os.path.relpath(p.resolve(), base.resolve())).as_posix()


def _normalise(line: str) -> str:
    return " ".join(line.split())


def offending_text(d: Diagnostic, sources: SourceLines) -> str:
    last = d.end_line if d.end_line - d.line < MAX_MATCHED_LINES else d.line
    lines = [sources.line(d.path, n) for n in range(d.line, max(last, d.line) + 1)]
    if lines[0] is None:
        return _normalise(d.message)  # unreadable file (SES999): the reason identifies it
    return "\n".join(_normalise(line) for line in lines if line is not None)


def fingerprints(diagnostics: list[Diagnostic], sources: SourceLines, base: Path) -> list[Key]:
    """The fingerprint of each diagnostic, in the order given."""
    seen: Counter[tuple[str, str, str]] = Counter()
    keys: list[Key | None] = [None] * len(diagnostics)
    order = sorted(range(len(diagnostics)), key=lambda i: diagnostics[i].sort_key)
    for i in order:
        d = diagnostics[i]
        triple = (_relative(d.path, base), d.code, offending_text(d, sources))
        keys[i] = (*triple, seen[triple])
        seen[triple] += 1
    return keys  # type: ignore[return-value]


def fingerprint_hash(key: Key) -> str:
    """A short stable hash of a fingerprint (SARIF `partialFingerprints`)."""
    return hashlib.sha256("\x00".join(map(str, key)).encode("utf-8")).hexdigest()[:32]


def write_baseline(file: str | Path, diagnostics: list[Diagnostic], sources: SourceLines) -> int:
    """Record `diagnostics` in `file`; returns how many were written."""
    file = Path(file)
    keys = sorted(fingerprints(diagnostics, sources, file.resolve().parent))
    document = {
        "version": VERSION,
        "tool": "session-lint",
        "findings": [{"path": p, "code": c, "text": t, "occurrence": o} for p, c, t, o in keys],
    }
    text = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    try:
        file.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write baseline {file}: {exc.strerror or exc}") from None
    return len(keys)


@dataclass
class Baseline:
    file: Path
    known: set[Key]

    @classmethod
    def load(cls, file: str | Path) -> Baseline:
        file = Path(file)
        try:
            document = json.loads(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read baseline {file}: {exc.strerror or exc}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"baseline {file} is not valid JSON: {exc}") from None
        if not isinstance(document, dict) or document.get("version") != VERSION:
            found = document.get("version") if isinstance(document, dict) else None
            raise ConfigError(f"baseline {file}: unsupported version {found!r} (expected {VERSION}); "
                              "regenerate it with --write-baseline")
        findings = document.get("findings")
        known: set[Key] = set()
        if not isinstance(findings, list):
            raise ConfigError(f"baseline {file}: 'findings' must be a list")
        for entry in findings:
            try:
                key = (entry["path"], entry["code"], entry["text"], entry["occurrence"])
            except (TypeError, KeyError) as exc:
                raise ConfigError(f"baseline {file}: malformed finding {entry!r}") from exc
            if not (all(isinstance(v, str) for v in key[:3]) and isinstance(key[3], int)):
                raise ConfigError(f"baseline {file}: malformed finding {entry!r}")
            known.add(key)
        return cls(file, known)

    def new_findings(self, diagnostics: list[Diagnostic], sources: SourceLines) -> list[Diagnostic]:
        keys = fingerprints(diagnostics, sources, self.file.resolve().parent)
        return [d for d, key in zip(diagnostics, keys) if key not in self.known]
