"""What a checkpoint file is, and whether it is whole: format sniffing and structure checks.

No torch here.  :func:`detect_format` reads a file's first bytes; :func:`incomplete` walks
the file's structure (without loading or unpickling anything) and says why it is not a
complete file of its format, or None when it is:

* torch zip (``torch.save`` since 1.6) and TorchScript: the zip's end-of-central-directory
  record and central directory read, every member lies inside the file and its CRC matches,
  and a ``data.pkl`` is there;
* legacy ``torch.save`` (a sequence of pickles, then the raw storages): every pickle reaches
  its STOP opcode, and the storages listed fill the rest of the file exactly; a plain pickle
  must end with STOP at the end of the file;
* safetensors: the JSON header parses and the tensors' byte ranges end exactly at the end of
  the file.

A digest recorded on first use is only as good as the file it was taken from: a download
cut short (no ``Content-Length``) or a garbage file with the right first bytes is refused
before its digest is recorded (:func:`synthdetect.hub.verify.check_format`).
"""

from __future__ import annotations

import io
import json
import os
import pickletools
import struct
import zipfile
from pathlib import Path

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER
# bytes per element of the storage classes a legacy torch.save names (torch._utils._element_size)
_ELEMENT_SIZE = {
    "DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "LongStorage": 8,
    "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
    "ComplexDoubleStorage": 16, "ComplexFloatStorage": 8, "QInt8Storage": 1, "QUInt8Storage": 1,
    "QInt32Storage": 4, "QUInt4x2Storage": 1, "QUInt2x4Storage": 1, "UntypedStorage": 1,
}
_MAX_SAFETENSORS_HEADER = 100 << 20


def is_torchscript(path: Path | str) -> bool:
    """True for a TorchScript archive (zip with ``constants.pkl``): it carries code."""
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("/constants.pkl") or n == "constants.pkl" for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _sniff(head: bytes) -> str | None:
    """The container the first bytes of a file open: ``zip`` | ``safetensors`` | ``pickle`` | None."""
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if len(head) >= 9 and head[8:9] == b"{":  # u64 header length, then the JSON header
        return "safetensors"
    if head[:1] == b"\x80":  # pickle protocol >= 2 (legacy torch.save)
        return "pickle"
    return None


def detect_format(path: Path | str) -> str:
    """``torchscript`` | ``torch`` (torch.save zip or legacy pickle) | ``safetensors`` | ``unknown``."""
    try:
        with open(path, "rb") as f:
            kind = _sniff(f.read(16))
    except OSError:
        return "unknown"
    if kind == "zip":
        return "torchscript" if is_torchscript(path) else "torch"
    return {"safetensors": "safetensors", "pickle": "torch"}.get(kind or "", "unknown")


def incomplete(path: Path | str) -> str | None:
    """Why ``path`` is not a complete file of the format it sniffs as (None: it is whole)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            kind = _sniff(f.read(16))
            if kind == "zip":
                return _zip_problem(path)
            if kind == "safetensors":
                return _safetensors_problem(f, os.fstat(f.fileno()).st_size)
            if kind == "pickle":
                return _pickle_problem(f, os.fstat(f.fileno()).st_size)
    except OSError as e:
        return f"cannot read it: {e}"
    return "not a torch, TorchScript or safetensors file"


# --------------------------------------------------------------------------- zip


def _zip_problem(path: Path) -> str | None:
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            for i in infos:
                if i.header_offset + 30 + i.compress_size > size:
                    return f"zip member {i.filename} runs past the end of the file"
            if not any(i.filename == "data.pkl" or i.filename.endswith("/data.pkl") for i in infos):
                return "zip archive without a data.pkl: not a torch checkpoint"
            bad = z.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as e:
        return f"truncated or damaged zip archive ({e})"
    if bad is not None:
        return f"zip member {bad} is damaged (CRC mismatch)"
    return None


# --------------------------------------------------------------------------- safetensors


def _safetensors_problem(f: io.BufferedReader, size: int) -> str | None:
    f.seek(0)
    (n,) = struct.unpack("<Q", f.read(8))
    if n > min(size - 8, _MAX_SAFETENSORS_HEADER):
        return f"safetensors header of {n} bytes does not fit in a {size}-byte file"
    try:
        header = json.loads(f.read(n))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        return f"safetensors header does not parse ({e})"
    if not isinstance(header, dict):
        return "safetensors header is not a JSON object"
    end = 0
    for key, t in header.items():
        if key == "__metadata__":
            continue
        offs = t.get("data_offsets") if isinstance(t, dict) else None
        if (not isinstance(offs, list) or len(offs) != 2 or not all(isinstance(o, int) for o in offs)
                or not 0 <= offs[0] <= offs[1]):
            return f"safetensors tensor {key!r} has no valid data_offsets"
        end = max(end, offs[1])
    if 8 + n + end != size:
        return f"safetensors tensors need {8 + n + end} bytes, the file has {size} (truncated?)"
    return None


# --------------------------------------------------------------------------- pickles


def _pickle_values(f: io.BufferedReader) -> list[object]:
    """The strings, ints and globals one pickle pushes, in order, memo look-ups resolved; ValueError
    when it does not reach its STOP opcode.  Nothing is unpickled (``pickletools.genops``)."""
    values: list[object] = []
    memo: dict[int, object] = {}
    last: object = None  # the value the previous opcode pushed (None: a container, a mark...)
    for op, arg, _ in pickletools.genops(f):
        name, pushed = op.name, None
        if name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
            memo[len(memo) if name == "MEMOIZE" else int(arg)] = last
            continue
        if name in ("GET", "BINGET", "LONG_BINGET"):
            pushed = memo.get(int(arg))
        elif name == "GLOBAL":
            pushed = ("global", *str(arg).split(" ", 1))
        elif name == "STACK_GLOBAL" and len(values) >= 2:
            mod, qual = values[-2:]
            del values[-2:]
            pushed = ("global", str(mod), str(qual))
        elif isinstance(arg, (str, bytes, int)) and name not in ("PROTO", "FRAME"):
            pushed = arg
        if pushed is not None:
            values.append(pushed)
        last = pushed
    return values


def _storage_sizes(values: list[object]) -> dict[str, int]:
    """``{storage key: element size}`` from the persistent ids ``('storage', torch.XStorage, key, ...)``."""
    out = {}
    for i in range(len(values) - 2):
        v, g, key = values[i], values[i + 1], values[i + 2]
        if v == "storage" and isinstance(g, tuple) and len(g) == 3 and isinstance(key, str):
            out[key] = _ELEMENT_SIZE.get(g[2], 0)
    return out


def _pickle_problem(f: io.BufferedReader, size: int) -> str | None:
    f.seek(0)
    try:
        first = _pickle_values(f)
        if first != [LEGACY_MAGIC]:  # a plain pickle: STOP must be the last byte
            return None if f.tell() == size else f"{size - f.tell()} bytes after the pickle's STOP opcode"
        _pickle_values(f)  # protocol version
        _pickle_values(f)  # sys_info
        sizes = _storage_sizes(_pickle_values(f))
        keys = [k for k in _pickle_values(f) if isinstance(k, str)]
    except (ValueError, EOFError, struct.error) as e:
        return f"truncated or damaged pickle ({e})"
    for key in keys:
        es = sizes.get(key)
        if not es:
            return f"legacy torch file: storage {key} of an unknown type"
        raw = f.read(8)
        if len(raw) < 8:
            return f"legacy torch file: storage {key} missing (truncated)"
        (numel,) = struct.unpack("<q", raw)
        if numel < 0 or f.tell() + numel * es > size:
            return f"legacy torch file: storage {key} runs past the end of the file (truncated)"
        f.seek(numel * es, os.SEEK_CUR)
    if f.tell() != size:
        return f"legacy torch file: {size - f.tell()} bytes after its last storage"
    return None
