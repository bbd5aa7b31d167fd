"""What a file is and whether it is the right one: format sniffing, import of local files, ``verify``.

* :func:`check_format` (before a digest is recorded on first use): the file is of the expected
  format and whole (:mod:`.formats`: ``detect_format``, ``incomplete``; a TorchScript archive
  carries code and is only loaded when its digest is the registry's).
* :func:`import_files` matches files on disk to an entry's files, checks them against
  :func:`~synthdetect.hub.store.expected_digest` and copies them into the cache.
* :func:`verify_all` re-hashes installed models and backbones (against their cards; each file
  must also load: an ONNX file builds an onnxruntime session meeting the contract, a probe's
  head parses), lists malformed cards as BROKEN, and re-hashes cached checkpoints (against the
  registry or the digest recorded on first use).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..cards import card_files, sha256_file
from .catalog import HubEntry, HubFile, load_registry
from .errors import ChecksumError, HubError
from .formats import detect_format, incomplete
from .store import Fetched, accept, cache_dir, cached_path, expected_digest, recorded_digests


def check_format(entry: HubEntry, hf: HubFile, path: Path, why: str = "") -> None:
    """HubError unless ``path`` is a whole ``hf.format`` file: the check before a digest is recorded on
    first use (catches an HTML page saved as a checkpoint, a truncated download, garbage with the right
    first bytes).  ``why``: what may have gone wrong, added to the message."""
    fmt = detect_format(path)
    if fmt != hf.format:
        raise HubError(
            f"{path} is not the expected {hf.format} file for {entry.name}/{hf.filename} (looks like: {fmt}"
            f"{'; an HTML page or error text?' if fmt == 'unknown' else ''}){why}"
        )
    problem = incomplete(path)
    if problem:
        raise HubError(f"{path} is not a complete {hf.format} file for {entry.name}/{hf.filename}: {problem}"
                       f"{why}; no digest recorded")


def import_files(entry: HubEntry, paths: Iterable[Path | str], *, cache: Path | str | None = None,
                 copy: bool = True) -> tuple[list[Fetched], list[Path]]:
    """Match local files to ``entry``'s files, verify digests and copy them into the cache.

    A file matches by digest (when known), else by file name, else when exactly one
    file and one path remain.  Returns (matched, unused paths).
    """
    paths = [Path(p).expanduser() for p in paths]
    for p in paths:
        if not p.is_file():
            raise HubError(f"{p}: no such file")
    digests = {p: sha256_file(p) for p in paths}
    remaining = list(paths)
    matched: list[tuple[HubFile, Path]] = []
    todo = list(entry.files)
    for hf in list(todo):
        exp, _ = expected_digest(entry, hf, cache)
        hit = next((p for p in remaining if exp and digests[p] == exp), None)
        if hit is None:
            hit = next((p for p in remaining if p.name == hf.filename), None)
        if hit is not None:
            matched.append((hf, hit))
            remaining.remove(hit)
            todo.remove(hf)
    if len(todo) == 1 and len(remaining) == 1:
        matched.append((todo.pop(), remaining.pop()))
    if todo:
        raise HubError(
            f"{entry.name}: no file given for {', '.join(h.filename for h in todo)} "
            f"(pass it with --from)"
        )
    out = []
    for hf, p in matched:
        exp, origin = expected_digest(entry, hf, cache)
        got = digests[p]
        if exp is None:  # nothing to compare with: at least the file must be of the right kind
            check_format(entry, hf, p)
        if exp is not None and got != exp:
            raise ChecksumError(
                f"sha256 mismatch for {p} as {entry.name}/{hf.filename}: expected {exp} ({origin}), got {got}"
                + (f"; if the file recorded on first use was the wrong one, "
                   f"`synthdetect weights forget {entry.name}` drops that record" if origin == "recorded" else "")
            )
        dest = cached_path(entry, hf, cache)
        if copy and p.resolve() != dest.resolve():
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".part")
            shutil.copyfile(p, tmp)
            tmp.replace(dest)
        out.append(accept(entry, hf, dest if copy else p, got, exp, origin, f"imported from {p}", cache))
    return out, remaining


# --------------------------------------------------------------------------- verify


@dataclass
class VerifyRow:
    kind: str  # model | backbone | ensemble | checkpoint
    name: str
    path: str
    status: str  # OK | MISMATCH | MISSING | BROKEN | UNVERIFIED | PARTIAL
    detail: str = ""


def verify_card(kind: str, card_path: Path) -> list[VerifyRow]:
    """One installed card: BROKEN (malformed card, or a file that does not load / breaks the ONNX
    contract), MISSING, MISMATCH (digest) or OK, and its calibration-domain sidecar when it has
    one.  No row for a sound ensemble card (it has no file)."""
    from ..cards import BrokenCard, CardError, load_any
    from ..scan.runtime import RuntimeSetupError, check_loads, load_head

    card = load_any(kind, card_path)
    if isinstance(card, BrokenCard):
        return [VerifyRow(kind, card.name, str(card_path), "BROKEN", card.reason)]
    if kind == "ensemble":
        return []
    domain = [_domain_row(card)] if getattr(card, "domain", None) else []
    mp = card.model_path
    if not mp.is_file():
        return [VerifyRow(kind, card.name, str(mp), "MISSING", f"{mp.name} missing"), *domain]
    got = sha256_file(mp)
    if got != card.sha256:
        return [VerifyRow(kind, card.name, str(mp), "MISMATCH", f"card {card.sha256}, file {got}"), *domain]
    try:  # the right bytes can still be a truncated export: the file must load, as scan will load it
        if getattr(card, "is_probe", False):
            load_head(card, verify=False)  # a probe's file is its head (NAME.head.json)
        else:
            check_loads(card)
    except (CardError, RuntimeSetupError) as e:
        return [VerifyRow(kind, card.name, str(mp), "BROKEN", str(e)), *domain]
    return [VerifyRow(kind, card.name, str(mp), "OK", got), *domain]


def _domain_row(card) -> "VerifyRow":
    p = card.model_path.parent / str(card.domain.get("file", ""))
    if not p.is_file():
        return VerifyRow("domain", card.name, str(p), "MISSING", "domain reference missing")
    got = sha256_file(p)
    ok = got == card.domain.get("sha256")
    return VerifyRow("domain", card.name, str(p), "OK" if ok else "MISMATCH",
                     got if ok else f"card {card.domain.get('sha256')}, file {got}")


def verify_all(models_dir: Path, *, cache: Path | str | None = None,
               registry: dict[str, HubEntry] | None = None) -> list[VerifyRow]:
    """Re-hash installed models (cards in ``models_dir``) and cached checkpoints."""
    cards = card_files(models_dir) if models_dir.is_dir() else []
    rows = [r for kind, _, cp in cards for r in verify_card(kind, cp)]
    reg = registry if registry is not None else load_registry()
    root = cache_dir(cache)
    for entry in reg.values():
        if not (root / entry.name).is_dir():
            continue
        for hf in entry.files:
            p = cached_path(entry, hf, cache)
            if not p.is_file():
                part = p.with_name(p.name + ".part")
                if part.is_file():
                    rows.append(VerifyRow("checkpoint", f"{entry.name}/{hf.filename}", str(part), "PARTIAL",
                                          "interrupted download: pull again to resume"))
                elif f"{entry.name}/{hf.filename}" in recorded_digests(cache):
                    # it was fetched once (its digest was recorded) and has gone since
                    rows.append(VerifyRow("checkpoint", f"{entry.name}/{hf.filename}", str(p), "MISSING",
                                          "recorded on first use, no longer in the cache"))
                continue
            exp, origin = expected_digest(entry, hf, cache)
            got = sha256_file(p)
            if exp is None:
                rows.append(VerifyRow("checkpoint", f"{entry.name}/{hf.filename}", str(p), "UNVERIFIED",
                                      f"no published or recorded digest; sha256 {got}"))
            elif got == exp:
                rows.append(VerifyRow("checkpoint", f"{entry.name}/{hf.filename}", str(p), "OK",
                                      f"{got} ({origin})"))
            else:
                rows.append(VerifyRow("checkpoint", f"{entry.name}/{hf.filename}", str(p), "MISMATCH",
                                      f"expected {exp} ({origin}), file {got}"
                                      + (f"; `weights forget {entry.name}` drops a wrong record"
                                         if origin == "recorded" else "")))
    return rows
