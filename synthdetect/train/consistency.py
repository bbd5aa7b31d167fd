"""What keeps a run directory true to its weights (torch-free):

* the training and validation images by content: every file's SHA-256 (``cards.sha256_file``, the
  one file hash), written beside the split lists as ``RUN/train.sha256`` / ``RUN/val.sha256``
  (``sha256sum`` format) and summed up as the data summary's ``sha256``
  (:func:`digest_items`, :func:`data_digest`, :func:`write_digests`);
* a validation image that is a training image, the same file or a byte-identical copy
  (:func:`refuse_overlap`);
* ``--resume`` with other data or settings than the run's (:func:`resume_differences`);
* a run's training images among other images, by SHA-256 (:func:`training_digests`,
  :func:`training_images_among`), for an evaluation that must not pass training scores off as a test;
* ``export`` of a run that did not finish, or whose checkpoint is not the one its config describes
  (:func:`check_finished`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ..cards import sha256_file
from ..inputs.datasets import DataError, Item

# config keys a --resume may change: how the run is executed, and what the run itself measures or records
RESUME_FREE = frozenset({"epochs", "device", "threads", "workers", "versions", "argv", "created", "result",
                         "resumed_from_epoch", "decoded_cache_mib", "frames_stripped", "unreadable", "feature_cache",
                         "data_warnings"})
# config key -> the option that sets it (the others are derived from several options, e.g. augment)
_OPTION = {"lr": "--lr", "batch_size": "--batch-size", "seed": "--seed", "pairs": "--pairs", "patience": "--patience",
           "monitor": "--monitor", "crops_per_image": "--crops-per-image",
           "frames": "--keep-frames", "blur_jpeg_prob": "--blur-jpeg-prob", "views": "--views",
           "feature": "--feature", "train": "--train", "val": "--val", "init_from": "--init-from",
           "train_resize_shorter_to": "--resize-to", "backbone_digest": "--backbone-weights",
           "pretrained_backbone": "--backbone-weights"}


# --------------------------------------------------------------------------- data by content
def digest_items(items: Sequence[Item], tick: Callable[[], None] | None = None) -> list[str | None]:
    """Every item's SHA-256 (None for a file that cannot be read: the decoding step names it)."""
    out: list[str | None] = []
    for it in items:
        try:
            out.append(sha256_file(it.path))
        except OSError:
            out.append(None)
        if tick:
            tick()
    return out


def data_digest(items: Sequence[Item], digests: Sequence[str | None]) -> str:
    """One SHA-256 for a data set: over the lines ``LABEL HEX`` of its images in order (``-`` for a file
    that could not be read), so the same images with the same labels give the same digest wherever they lie."""
    h = hashlib.sha256()
    for it, d in zip(items, digests):
        h.update(f"{int(it.label)} {d or '-'}\n".encode())
    return h.hexdigest()


def write_digests(path: Path, items: Sequence[Item], digests: Sequence[str | None]) -> None:
    """``HEX  PATH`` per image (``sha256sum -c`` checks the data is unchanged); unreadable files are left out."""
    lines = [f"{d}  {it.path}" for it, d in zip(items, digests) if d]
    Path(path).write_text("".join(line + "\n" for line in lines))


def refuse_overlap(train: Sequence[Item], train_digests: Sequence[str | None], val: Sequence[Item],
                   val_digests: Sequence[str | None]) -> None:
    """A :class:`DataError` when a validation image is a training image: the same file, or a copy with the
    same bytes (SHA-256) under another name (validation, early stopping and the card's validation
    figures would score training images)."""
    by_path = {str(it.path): it for it in train}
    by_digest = {d: it for it, d in zip(train, train_digests) if d}
    clashes = []
    for it, d in zip(val, val_digests):
        hit = by_path.get(str(it.path)) or (by_digest.get(d) if d else None)
        if hit is not None:
            clashes.append((it, hit))
    if not clashes:
        return
    v, t = clashes[0]
    same = "the same file" if str(v.path) == str(t.path) else f"the same bytes (SHA-256) as {t.path}"
    raise DataError(f"{len(clashes)} --val images are --train images, the same file or a byte-identical copy "
                    f"(e.g. {v.path}: {same}); validation would score training images")


# --------------------------------------------------------------------------- --resume
def _comparable(key: str, value: Any) -> Any:
    if key == "arch_kw" and isinstance(value, dict):  # the weights file by content: backbone_digest
        return {k: v for k, v in value.items() if k != "backbone_weights"}
    if key == "backbone" and isinstance(value, dict):  # a CLIP probe's backbone info: its path too (weights_digest stays)
        return {k: v for k, v in value.items() if k != "weights"}
    if key == "init_from" and isinstance(value, dict):
        return value.get("run")
    return value


def _data_differs(old: dict | None, new: dict | None) -> bool:
    if not old or not new:
        return bool(old) != bool(new)
    if old.get("sha256") and new.get("sha256"):
        return old["sha256"] != new["sha256"]
    return any(old.get(k) != new.get(k) for k in ("sets", "n", "n_real", "n_synthetic"))


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _data_shown(s: dict | None) -> str:
    return "none" if not s else f"{s.get('n')} images of {', '.join(map(str, s.get('sets') or []))}"


def resume_differences(old: dict[str, Any], new: dict[str, Any], epochs_done: int) -> list[str]:
    """What a ``--resume`` would change of the run's recorded settings (``old``: its config.json; ``new``:
    the resumed run's config, JSON-safe): data by content, every setting but those in ``RESUME_FREE``;
    ``--epochs`` may change but not below the epochs already trained.  Keys the run did not record are
    not compared (a run made by an earlier version)."""
    diffs = []
    for key in old:
        if key in RESUME_FREE:
            continue
        name = _OPTION.get(key, key)
        if key in ("train", "val"):
            if _data_differs(old.get(key), new.get(key)):
                diffs.append(f"{name}: the run's {_data_shown(old.get(key))}, now {_data_shown(new.get(key))}"
                             + (" (other images or labels)" if old.get(key) and new.get(key) else ""))
        elif _comparable(key, old[key]) != _comparable(key, new.get(key)):
            diffs.append(f"{name}: {_shown(_comparable(key, old[key]))} in the run, now "
                         f"{_shown(_comparable(key, new.get(key)))}")
    if int(new.get("epochs") or 0) < epochs_done:
        diffs.append(f"--epochs {new.get('epochs')}: the run has already trained {epochs_done} epochs")
    return diffs


# --------------------------------------------------------------------------- a run's training images elsewhere
def training_digests(run_dir: Path | str) -> set[str]:
    """The SHA-256 of a run's training images (``RUN/train.sha256``; empty for a run made before it was written)."""
    p = Path(run_dir) / "train.sha256"
    if not p.is_file():
        return set()
    return {line[:64].lower() for line in p.read_text().splitlines() if len(line) >= 64}


def training_images_among(run_dir: Path | str, paths: Iterable[Path | str],
                          digests: dict[int, str] | None = None) -> list[int]:
    """Positions of ``paths`` that are training images of the run (the same bytes, by SHA-256).
    ``digests``: the files' SHA-256 by position, filled as they are hashed (shared with other checks)."""
    train = training_digests(run_dir)
    if not train:
        return []
    digests = {} if digests is None else digests
    hits = []
    for i, p in enumerate(paths):
        if i not in digests:
            try:
                digests[i] = sha256_file(p)
            except OSError:
                continue
        if digests[i] in train:
            hits.append(i)
    return hits


# --------------------------------------------------------------------------- export
def checkpoint_digests(run_dir: Path, names: Iterable[str] = ("best.pt", "last.pt")) -> dict[str, str]:
    """The run's checkpoints by SHA-256, recorded in its result so that export can tell they are its own."""
    return {n: sha256_file(Path(run_dir) / n) for n in names if (Path(run_dir) / n).is_file()}


def check_finished(run_dir: Path, cfg: dict[str, Any], checkpoint: str) -> str | None:
    """Why ``run_dir`` cannot be exported (one line), or None: a run whose config.json has no result
    (it failed or was interrupted: its config may describe data the checkpoints never saw), or whose
    checkpoint is not the file its result recorded (copied in, or left by another run)."""
    if not cfg.get("result"):
        return (f"{run_dir}: the run did not finish (config.json has no result: it failed or was interrupted, and "
                "its checkpoints may not be the weights it describes); finish it with --resume or train it again")
    want = (cfg["result"].get("checkpoints") or {}).get(checkpoint)
    path = Path(run_dir) / checkpoint
    if want and path.is_file() and sha256_file(path) != want:
        return (f"{path} is not the checkpoint the run's config.json describes (its SHA-256 differs from the one "
                "recorded when the run finished)")
    return None
