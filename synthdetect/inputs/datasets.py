"""Labelled image data sets for training, probes and evaluation (no torch here).

A data argument is ``DIR``, ``DIR@LISTFILE`` or a labelled CSV.  Labels come from ``0_real`` /
``1_fake`` directories anywhere under DIR (CNNDetection layout, also nested
``<root>/<class>/{0_real,1_fake}``; ``real/`` and ``fake/`` or ``synthetic/`` are read alike, in
any letter case).  LISTFILE (paths relative to DIR, one per line, ``#`` comments) restricts the
set.  ``DIR/manifest.csv`` (``path,label,generator,...``) names the generator of each file for
per-generator breakdowns, and labels the files that lie in no class directory.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
from PIL import Image

from .discovery import discover
from .frames import Frame, class_frames, find_frame, frame_warnings

NOT_AN_IMAGE = "not an image"
LABEL_DIRS = {"0_real": 0, "1_fake": 1}
LABEL_DIR_NAMES = {"real": 0, "fake": 1, "synthetic": 1}  # read in any letter case, after LABEL_DIRS


class DataError(ValueError):
    """A data argument is unusable (missing directory, bad list file, no images)."""


@dataclass(frozen=True)
class Item:
    path: Path  # absolute
    rel: str  # relative to the data set root (posix)
    label: int  # 0 real, 1 synthetic
    generator: str | None = None
    root: str = ""  # the data set root, for provenance

    def to_json(self) -> dict:
        return {"path": str(self.path), "rel": self.rel, "label": self.label, "generator": self.generator}


@dataclass(frozen=True)
class DataSpec:
    root: Path
    listfile: Path | None = None

    @classmethod
    def parse(cls, arg: str | Path) -> "DataSpec":
        s = str(arg)
        if Path(s).is_file() and Path(s).suffix.lower() == ".csv":
            p = Path(s).expanduser().resolve()
            return cls(p.parent, p)
        listfile = None
        if "@" in s and not Path(s).exists():
            s, lf = s.rsplit("@", 1)
            listfile = Path(lf).expanduser()
            if not listfile.is_file():
                raise DataError(f"list file {listfile} not found (from {arg!r})")
        root = Path(s).expanduser()
        if not root.is_dir():
            raise DataError(f"data directory {root} not found")
        return cls(root.resolve(), listfile.resolve() if listfile else None)

    def __str__(self) -> str:
        return f"{self.root}@{self.listfile}" if self.listfile else str(self.root)


def data_label(data: Sequence[str], perturbations: Sequence[str] = ()) -> str:
    """A short, machine-independent name for an evaluation: ``SET[@LIST][ +perturbation]``."""
    parts = []
    for d in data:
        root, _, lst = str(d).partition("@")
        parts.append(Path(root).name + (f"@{Path(lst).name}" if lst else ""))
    label = "+".join(parts)
    return label + (f" [{','.join(perturbations)}]" if perturbations else "")


def read_listfile(path: Path) -> list[str]:
    out = []
    for line in Path(path).read_text(encoding="utf-8-sig").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(Path(line).as_posix())
    return out


CSV_LABELS = {"0": 0, "real": 0, "1": 1, "fake": 1, "synthetic": 1}


def read_manifest(root: Path) -> tuple[dict[str, str], dict[str, int]]:
    """``root/manifest.csv`` when present: rel path -> generator, rel path -> label (0/real,
    1/fake/synthetic; rows without a readable label are left out of the second)."""
    m = root / "manifest.csv"
    gens: dict[str, str] = {}
    labels: dict[str, int] = {}
    if not m.is_file():
        return gens, labels
    with m.open(newline="", encoding="utf-8-sig") as f:  # Excel's "CSV UTF-8" starts with a BOM
        for row in csv.DictReader(f):
            if not row.get("path"):
                continue
            rel = Path(row["path"]).as_posix()
            if row.get("generator"):
                gens[rel] = row["generator"]
            lab = CSV_LABELS.get((row.get("label") or "").strip().lower())
            if lab is not None:
                labels[rel] = lab
    return gens, labels


def read_csv_items(path: Path) -> list[Item]:
    """A labelled CSV: columns ``path`` (relative to the CSV's directory, or absolute) and ``label``
    (0/real or 1/fake/synthetic); ``generator`` optional."""
    root = path.parent
    items: list[Item] = []
    with path.open(newline="", encoding="utf-8-sig") as f:  # Excel's "CSV UTF-8" starts with a BOM
        reader = csv.DictReader(f)
        if not reader.fieldnames or "path" not in reader.fieldnames or "label" not in reader.fieldnames:
            raise DataError(f"{path}: a labelled CSV needs the columns 'path' and 'label'")
        for n, row in enumerate(reader, 2):  # row numbers as a spreadsheet shows them (the header is row 1)
            rel, lab = _csv_row(path, n, row)
            p = Path(rel) if Path(rel).is_absolute() else root / rel
            if not p.is_file():
                raise DataError(f"{path}: row {n}: {rel} not found")
            items.append(Item(p.resolve(), Path(rel).as_posix(), lab, (row.get("generator") or None), str(root)))
    if not items:
        raise DataError(f"{path}: no rows")
    return items


def _csv_row(path: Path, n: int, row: Mapping[str, str | None]) -> tuple[str, int]:
    """Row ``n``'s path and label, or a DataError saying which of the two is wrong."""
    rel = (row.get("path") or "").strip()
    if not rel:
        raise DataError(f"{path}: row {n}: empty path")
    lab = CSV_LABELS.get((row.get("label") or "").strip().lower())
    if lab is None:
        raise DataError(f"{path}: row {n}: label must be 0/real or 1/fake/synthetic, got {row.get('label')!r}")
    return rel, lab


def licences_of(items: Sequence[Item]) -> dict[str, str]:
    """Data set name -> the licences its ``manifest.csv`` states for the images used."""
    out: dict[str, set[str]] = {}
    rows: dict[str, dict[str, str]] = {}
    for it in items:
        root = Path(it.root)
        if it.root not in rows:
            rows[it.root] = {}
            m = root / "manifest.csv"
            if m.is_file():
                with m.open(newline="", encoding="utf-8-sig") as f:
                    for row in csv.DictReader(f):
                        if row.get("path"):
                            rows[it.root][Path(row["path"]).as_posix()] = (row.get("licence") or "").strip()
        lic = rows[it.root].get(it.rel)
        if lic:
            out.setdefault(root.name, set()).add(lic)
    return {k: "; ".join(sorted(v)) for k, v in sorted(out.items())}


def _label_of(root: Path, rel: str) -> int | None:
    """The innermost ``0_real``/``1_fake`` directory's label on the way from ``root`` (itself included:
    ``--data ref/0_real``) to ``rel``; without one, the innermost ``real``/``fake``/``synthetic`` (any
    letter case): a ``1_fake/real/`` folder of renders stays synthetic."""
    dirs = (root.name, *Path(rel).parts[:-1])
    for names, key in ((LABEL_DIRS, str), (LABEL_DIR_NAMES, str.lower)):
        for part in reversed(dirs):
            if key(part) in names:
                return names[key(part)]
    return None


def list_items(spec: DataSpec | str | Path, unlabelled: list[str] | None = None) -> list[Item]:
    """Images of one data set, sorted by relative path.  Images of a directory data set that lie
    outside any class directory (``0_real/``, ``real/``, ``1_fake/``, ``fake/``, ``synthetic/``) take
    their label from ``DIR/manifest.csv`` or have none and are not used; with ``unlabelled`` (a
    list) one line saying how many, with an example, is appended to it, and one line for each kind of
    entry left out of the walk (:func:`_left_lines`: a non-image file in a class folder, a broken
    link, a folder that cannot be listed), so that nothing goes unnoticed."""
    if not isinstance(spec, DataSpec):
        spec = DataSpec.parse(spec)
    root = spec.root
    gens, manifest_labels = read_manifest(root)
    items: list[Item] = []
    if spec.listfile is not None and spec.listfile.suffix.lower() == ".csv":
        items = read_csv_items(spec.listfile)
    else:
        skipped: list[str] = []
        left: list[tuple[str, str]] = []
        for rel in _named_files(spec, left):
            lab = _label_of(root, rel)
            lab = manifest_labels.get(rel) if lab is None else lab
            if lab is None and spec.listfile is not None:
                raise DataError(f"{rel}: no 0_real/1_fake directory in its path and no label in {root}/manifest.csv")
            if lab is None:
                skipped.append(rel)
                continue
            items.append(Item(root / rel, rel, lab, gens.get(rel), str(root)))
        if skipped and unlabelled is not None:
            n = len(skipped)
            unlabelled.append(f"{root}: {n} image{'s' if n != 1 else ''} outside 0_real/ and 1_fake/ not used (no "
                              f"label; e.g. {skipped[0]})")
        if unlabelled is not None:
            unlabelled.extend(_left_lines(root, left))
    if not items:
        raise DataError(f"no labelled images under {spec}: put the real photos in a 0_real/ (or real/) "
                        "directory and the synthetic images in 1_fake/ (or fake/, synthetic/), or name each "
                        "file's label in a CSV (columns path,label) and pass that")
    items.sort(key=lambda it: it.rel)
    return items


def _left_lines(root: Path, left: Sequence[tuple[str, str]]) -> list[str]:
    """One line per reason for the entries of a walk not taken (:func:`_named_files`): a non-image file only
    inside a class folder (not ``manifest.csv`` or a README beside them), any other (a broken link, a
    FIFO, a folder that cannot be listed) wherever it is."""
    by_why: dict[str, list[str]] = {}
    for rel, why in left:
        if why != NOT_AN_IMAGE or _label_of(root, rel) is not None:
            by_why.setdefault(why, []).append(rel)
    return [f"{root}: {len(rels)} file{'s' if len(rels) != 1 else ''} not used ({why}; e.g. {rels[0]})"
            for why, rels in by_why.items()]


def _rel(path: Path | str, root: Path) -> str:
    return Path(path).relative_to(root).as_posix()


def _named_files(spec: DataSpec, left: list[tuple[str, str]] | None = None) -> list[str]:
    """The files a plain list file names (each checked to exist), or every image file under the
    directory (sorted; found as ``scan`` finds them, :func:`synthdetect.inputs.discovery.discover`: by
    extension or first bytes), as paths relative to ``spec.root``; ``left`` (a list) is given the (path,
    why) of the directory's other entries."""
    if spec.listfile is None:
        found = discover([spec.root])  # as scan walks it: folder links followed, each real folder once
        if left is not None:
            left.extend([(_rel(p, spec.root), NOT_AN_IMAGE) for p in found.skipped]
                        + [(_rel(e.path, spec.root), e.reason) for e in found.errors])
        return sorted(_rel(p, spec.root) for p in found.files)
    rels = read_listfile(spec.listfile)
    if not rels:
        raise DataError(f"list file {spec.listfile} names no files")
    for rel in rels:
        if not (spec.root / rel).is_file():
            raise DataError(f"{spec.listfile}: {rel} not found under {spec.root}")
    return rels


def load_sets(args: Iterable[str | Path], unlabelled: list[str] | None = None) -> list[Item]:
    """Several data arguments concatenated (``--train A --train B``); ``unlabelled``: see :func:`list_items`."""
    out: list[Item] = []
    for a in args:
        out.extend(list_items(DataSpec.parse(a), unlabelled))
    return out


def image_files(args: Iterable[str | Path]) -> list[Path]:
    """Every image a data argument names, labelled or not (``DIR``: all image files under it;
    ``DIR@LIST``: the files listed), for uses that need no label (an export's parity check)."""
    out: list[Path] = []
    for a in args:
        spec = DataSpec.parse(a)
        if spec.listfile is not None and spec.listfile.suffix.lower() == ".csv":
            found = [it.path for it in read_csv_items(spec.listfile)]
        else:
            found = [spec.root / rel for rel in _named_files(spec)]
        if not found:
            raise DataError(f"no images under {spec}")
        out.extend(found)
    return out


def sample_pairs(items: Sequence[Item], n: int, seed: int) -> list[Item]:
    """N real and N synthetic images drawn without replacement with ``seed``."""
    rng = random.Random(seed)
    real = [it for it in items if it.label == 0]
    fake = [it for it in items if it.label == 1]
    if n > len(real) or n > len(fake):
        raise DataError(f"--pairs {n} asks for more than available ({len(real)} real, {len(fake)} synthetic)")
    return sorted(rng.sample(real, n), key=lambda i: i.rel) + sorted(rng.sample(fake, n), key=lambda i: i.rel)


def write_split(path: Path, items: Sequence[Item]) -> None:
    lines = ["# root\tpath\tlabel\tgenerator"]
    lines += [f"{it.root}\t{it.rel}\t{it.label}\t{it.generator or ''}" for it in items]
    Path(path).write_text("\n".join(lines) + "\n")


class UnreadableImage(DataError):
    """An image that cannot be decoded: its ``path`` and the ``reason``."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = str(path), reason


def decode_rgb(path: Path) -> Image.Image:
    """RGB pixels decoded as ``scan`` decodes them (``inputs.decoding.decode``: HEIC through
    pillow-heif, EXIF orientation, every mode to RGB, the pixel budget); a file that cannot be
    decoded is an :class:`UnreadableImage` naming it and why."""
    from .decoding import DecodeError, decode

    try:
        return decode(path).image
    except DecodeError as e:
        raise UnreadableImage(path, str(e)) from None


class DecodedCache:
    """Images decoded once into memory as uint8 HWC arrays, per resize policy.

    ``resize_to`` (shorter side, aspect kept, bilinear) is the deterministic first step of
    the Wang recipe, so caching after it keeps memory small and epochs fast.  With
    ``resize_to=None`` images stay at native resolution.  ``strip_frames``: a uniform frame
    (``frames.find_frame``) is cut off first, so that no crop shows it; ``stripped`` counts them.
    An image that cannot be decoded raises :class:`UnreadableImage` and is kept in ``unreadable`` (path -> reason),
    so that it is not decoded again; :meth:`warm` goes on past it.
    """

    def __init__(self, resize_to: int | None = None, min_side: int = 0, strip_frames: bool = False):
        self.resize_to = resize_to
        self.min_side = min_side
        self.strip_frames = strip_frames
        self._store: dict[str, np.ndarray] = {}
        self.decodes = 0
        self.stripped = 0
        self.unreadable: dict[str, str] = {}

    def get(self, path: Path) -> np.ndarray:
        key = str(path)
        arr = self._store.get(key)
        if arr is None:
            from .preprocess import resize_shorter

            if key in self.unreadable:
                raise UnreadableImage(key, self.unreadable[key])
            try:
                img = decode_rgb(path)
            except UnreadableImage as e:
                self.unreadable[key] = e.reason
                raise
            if self.strip_frames:
                img = self._strip(img)
            if self.resize_to:
                img = resize_shorter(img, self.resize_to, "bilinear")
            if self.min_side and min(img.size) < self.min_side:
                img = resize_shorter(img, self.min_side, "bilinear")
            arr = np.asarray(img, dtype=np.uint8).copy()
            self._store[key] = arr
            self.decodes += 1
        return arr

    def _strip(self, img: Image.Image) -> Image.Image:
        f = find_frame(np.asarray(img, dtype=np.uint8))
        if f is None:
            return img
        self.stripped += 1
        return img.crop(f.box)

    def warm(self, items: Sequence[Item], progress=None) -> None:
        """Decode every item (an undecodable one is kept in ``unreadable``, not raised)."""
        for it in items:
            try:
                self.get(it.path)
            except UnreadableImage:
                pass
            if progress is not None:
                progress()

    def __len__(self) -> int:
        return len(self._store)

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._store.values())


def without_unreadable(items: Sequence[Item], unreadable: Mapping[str, str]) -> list[Item]:
    """``items`` without those whose path is in ``unreadable`` (``DecodedCache.unreadable``)."""
    return [it for it in items if str(it.path) not in unreadable]


# What to do about a file format that tells the classes apart: a recipe that trains the network can
# augment with JPEG re-encodes; a probe over frozen features (``train probe``) cannot, so its sample
# must be built the way the questioned images reach the analyst.
FORMAT_ADVICE_AUGMENT = "consider JPEG augmentation with a high probability"
FORMAT_ADVICE_SAMPLE = ("build the sample with both classes in one format, re-encoded the way the questioned "
                        "images were (the probe may otherwise read the file format, not the content)")


def shortcut_warnings(items: Sequence[Item],
                      frames: tuple[tuple[int, list[Frame]], tuple[int, list[Frame]]] | None = None,
                      frames_cut: bool = False, format_advice: str = FORMAT_ADVICE_AUGMENT) -> list[str]:
    """Warn when file format, image size, JPEG quality or a uniform frame separates real from
    synthetic in a training set (e.g. JPEG reals vs lossless WebP fakes, camera JPEGs at q95 vs
    renders saved at q75, grey frames around reals and coloured ones around fakes): a detector can
    learn the container, the compression or the canvas instead of the content.
    ``frames``: each class's (images checked, frames found) when already measured
    (``quality.check_sample``); else :func:`~.frames.class_frames` samples them here.
    ``frames_cut``: the detector never sees a uniform frame (its input cuts it off, ``InputSpec.strip_frames``),
    so frames are not looked for.  ``format_advice``: what the format warning tells the user to do."""
    by_label: dict[int, list[Item]] = {0: [], 1: []}
    for it in items:
        by_label[it.label].append(it)
    if not by_label[0] or not by_label[1]:
        return []
    out = _format_warning(by_label, format_advice)
    headers = {lab: _headers(its) for lab, its in by_label.items()}
    out += _size_warnings({lab: [wh for wh, _ in h] for lab, h in headers.items()})
    out += _jpeg_quality_warning({lab: [q for _, q in h] for lab, h in headers.items()})
    if frames_cut:
        return out
    if frames is None:
        frames = (class_frames([it.path for it in by_label[0]]), class_frames([it.path for it in by_label[1]]))
    return out + frame_warnings(*frames)


_JPEG_SUFFIXES = {".jpeg": ".jpg", ".jpe": ".jpg", ".jfif": ".jpg"}


def _format_warning(by_label: dict[int, list[Item]], advice: str) -> list[str]:
    fmt = {lab: {_JPEG_SUFFIXES.get(it.path.suffix.lower(), it.path.suffix.lower()) for it in its}
           for lab, its in by_label.items()}
    if fmt[0] & fmt[1]:
        return []
    return [f"file format separates the classes (real: {', '.join(sorted(fmt[0]))}; synthetic: "
            f"{', '.join(sorted(fmt[1]))}); {advice}"]


def _headers(items: Sequence[Item], limit: int = 500) -> list[tuple[tuple[int, int], int | None]]:
    """(size, estimated JPEG quality or None) of up to ``limit`` images, from their headers."""
    from .decoding import init_codecs
    from .quality import jpeg_quality_estimate

    init_codecs()  # HEIC headers through pillow-heif
    out = []
    for it in items[:limit]:
        try:
            with Image.open(it.path) as im:
                out.append((im.size, jpeg_quality_estimate(im) if im.format in ("JPEG", "MPO") else None))
        except (OSError, ValueError, Image.DecompressionBombError):  # unreadable here: the extraction says why
            pass
    return out


def _size_warnings(sizes: dict[int, list[tuple[int, int]]]) -> list[str]:
    """One class all of one size the other never has, or the two classes' shorter sides in ranges
    that do not meet."""
    if not sizes[0] or not sizes[1]:
        return []
    sets = {lab: set(s) for lab, s in sizes.items()}
    for lab, other in ((1, 0), (0, 1)):
        if len(sets[lab]) == 1 and len(sets[other]) > 1 and not sets[lab] & sets[other]:
            (wh,) = sets[lab]
            name = "synthetic" if lab else "real"
            return [f"every {name} image is {wh[0]}x{wh[1]} and no image of the other class is: "
                    "image size separates the classes"]
    sides = {lab: [min(wh) for wh in s] for lab, s in sizes.items()}
    if max(sides[0]) < min(sides[1]) or max(sides[1]) < min(sides[0]):
        return [f"image size separates the classes (shorter side, real: {_span(sides[0], ' px')}; synthetic: "
                f"{_span(sides[1], ' px')}): build both classes at the sizes the questioned images have"]
    return []


def _jpeg_quality_warning(qualities: dict[int, list[int | None]]) -> list[str]:
    """Both classes (nearly) all JPEG, their estimated qualities in ranges that do not meet."""
    q = {lab: [v for v in vs if v is not None] for lab, vs in qualities.items()}
    if any(not q[lab] or len(q[lab]) < 0.9 * len(qualities[lab]) for lab in (0, 1)):
        return []
    if max(q[0]) < min(q[1]) or max(q[1]) < min(q[0]):
        return [f"JPEG quality separates the classes (real: {_span(q[0], '', 'q')}; synthetic: {_span(q[1], '', 'q')}): "
                "re-encode both classes the way the questioned images were (the detector may otherwise read the "
                "compression, not the content)"]
    return []


def _span(values: Sequence[int], unit: str = "", prefix: str = "") -> str:
    lo, hi = min(values), max(values)
    return f"{prefix}{lo}{unit}" if lo == hi else f"{prefix}{lo}–{hi}{unit}"
