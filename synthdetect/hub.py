"""Registry of published detectors and backbones, downloader, checksum verification.

No torch here: this module is imported by the CLI; the conversion of a checkpoint
to ONNX lives in ``synthdetect.train.published`` and is imported only when needed.

Every registry entry keeps the *original* URL of each file and its SHA-256 when the
authors (or the URL itself) publish one.  Where no digest is published the entry
says so (``sha256: None`` + ``sha256_note``) and the digest of the first file that
is pulled or imported is recorded in the checkpoint cache (trust on first use,
shown to the user); later pulls, imports and ``verify`` compare against it.

Overrides (mirrors for air-gapped labs, tests):
  * ``SYNTHDETECT_HUB_BASE_URL`` / ``base_url=``: every file is fetched from
    ``{base}/{entry name}/{file name}`` instead of its original URL (digests unchanged).
  * ``SYNTHDETECT_HUB_REGISTRY`` / ``registry_file=``: a JSON file whose entries
    replace or extend the built-in ones (same schema as ``HubEntry.to_dict``).
  * ``SYNTHDETECT_CHECKPOINTS_DIR`` / ``cache_dir=``: where raw checkpoints are kept
    (default ``<user data dir>/checkpoints``).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .cards import CLIP_MEAN, CLIP_STD, IMAGENET_MEAN, IMAGENET_STD, sha256_file

ENV_BASE_URL = "SYNTHDETECT_HUB_BASE_URL"
ENV_REGISTRY = "SYNTHDETECT_HUB_REGISTRY"
ENV_CACHE_DIR = "SYNTHDETECT_CHECKPOINTS_DIR"
TOFU_FILE = "recorded_sha256.json"
USER_AGENT = "synthdetect-weights/1 (+python urllib)"


class HubError(RuntimeError):
    """A one-line, user-facing problem with the hub (unknown name, HTTP error...)."""


class OfflineError(HubError):
    """The host cannot be reached (DNS failure, connection refused, timeout)."""


class ChecksumError(HubError):
    """A file's SHA-256 does not match the registry (or the digest recorded on first use)."""


class DownloadInterrupted(HubError):
    """The connection dropped mid-body; the ``.part`` file is kept for a resume."""


# --------------------------------------------------------------------------- registry


@dataclass
class HubFile:
    """One file of an entry, with its original URL and (when published) digest."""

    filename: str
    url: str
    sha256: str | None
    role: str = "checkpoint"  # checkpoint | head | backbone
    format: str = "torch"  # torch (torch.save pickle) | torchscript | safetensors
    size: int | None = None
    sha256_note: str = ""
    sha256_source: str = ""

    def __post_init__(self) -> None:
        if self.sha256 is not None:
            s = self.sha256.lower()
            if len(s) != 64 or any(c not in "0123456789abcdef" for c in s):
                raise ValueError(f"{self.filename}: sha256 must be 64 hex digits or null")
            self.sha256 = s
        elif not self.sha256_note:
            raise ValueError(f"{self.filename}: an entry without sha256 needs a sha256_note saying why")
        if self.format not in ("torch", "torchscript", "safetensors"):
            raise ValueError(f"{self.filename}: unknown format {self.format!r}")


@dataclass
class HubEntry:
    """A published detector (converted to ONNX on pull/import) or a backbone (cached only)."""

    name: str
    kind: str  # detector | backbone
    description: str
    source: str  # project page
    licence: str
    files: list[HubFile]
    family: str = ""
    architecture: str = ""
    paper: str = ""
    converter: str | None = None  # cnndetection | univfd (detectors only)
    input: dict[str, Any] = field(default_factory=dict)  # InputSpec fields for the ONNX card
    backbones: list[str] = field(default_factory=list)  # accepted backbone entries, preferred first
    open_clip: dict[str, Any] = field(default_factory=dict)  # backbones: open_clip model / model_cfg / hub name
    options: dict[str, Any] = field(default_factory=dict)  # converter options (cnndetection: layers, width_per_group)
    training: dict[str, Any] = field(default_factory=dict)  # what the published weights were trained on (card)

    def __post_init__(self) -> None:
        self.files = [f if isinstance(f, HubFile) else HubFile(**f) for f in self.files]
        if self.kind not in ("detector", "backbone"):
            raise ValueError(f"{self.name}: kind must be 'detector' or 'backbone'")
        if self.kind == "detector" and not self.converter:
            raise ValueError(f"{self.name}: a detector entry needs a converter")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_NO_SHA_CNNDET = (
    "not published: CNNDetection's weights/download_weights.sh gives only Dropbox links; "
    "the digest of the first file pulled/imported is recorded (trust on first use)"
)
_NO_SHA_HF = (
    "not recorded here: the Hugging Face file page lists the LFS SHA-256, which could not be "
    "read when this registry was written; the digest of the first file pulled/imported is "
    "recorded (trust on first use) - compare it with the file page"
)
_OPENAI_VITL14_SHA = "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836"
_UNIVFD_FC_SHA = "477100745713bcc957beb2b40859536859b6483fd6301b3b9293151b194c7847"
_UNIVFD_COMMIT = "030495aea3300a8b54c0ec37ec7fe1dd7e63c619"


def _hf(repo: str, filename: str = "open_clip_model.safetensors") -> str:
    return f"https://huggingface.co/{repo}/resolve/main/{filename}"


def _builtin() -> list[HubEntry]:
    cnn_input = {"size": 224, "resize": "none", "crop": "center",
                 "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}
    clip_input = {"size": 224, "resize": "none", "crop": "center",
                  "mean": list(CLIP_MEAN), "std": list(CLIP_STD)}
    entries = []
    for p, key in (("0.5", "2g2jagq2jn1fd0i"), ("0.1", "h7tkpcgiwuftb6g")):
        entries.append(HubEntry(
            name=f"cnndetection-blur-jpg-prob{p}",
            kind="detector",
            family="cnndetection",
            architecture="resnet50",
            converter="cnndetection",
            description=(f"Wang et al. CVPR 2020 'CNN-generated images are surprisingly easy to spot... "
                         f"for now': ResNet-50 trained on ProGAN with blur+JPEG augmentation p={p}"),
            paper="https://arxiv.org/abs/1912.11035",
            source="https://github.com/PeterWang512/CNNDetection",
            licence="CC BY-NC-SA 4.0 (CNNDetection repository licence)",
            input=dict(cnn_input),
            training={"data": "ProGAN images of 20 LSUN classes + real LSUN (Wang et al. 2020 training set)",
                      "augmentation": f"Gaussian blur sigma~U[0,3] and JPEG q~U{{30..100}}, each with p={p}",
                      "test_transform": "no resize, centre crop 224, ImageNet normalisation, sigmoid, thr 0.5"},
            files=[HubFile(
                filename=f"blur_jpg_prob{p}.pth",
                # weights/download_weights.sh uses ?dl=0 with wget; dl=1 asks Dropbox for the raw file.
                url=f"https://www.dropbox.com/s/{key}/blur_jpg_prob{p}.pth?dl=1",
                sha256=None,
                sha256_note=_NO_SHA_CNNDET,
                role="checkpoint",
                format="torch",
            )],
        ))
    entries.append(HubEntry(
        name="univfd-clip-vitl14",
        kind="detector",
        family="univfd",
        architecture="clip-vit-l-14+linear",
        converter="univfd",
        description=("Ojha et al. CVPR 2023 'Towards Universal Fake Image Detectors...': frozen OpenAI "
                     "CLIP ViT-L/14 image features (768-d) + linear head trained on ProGAN"),
        paper="https://arxiv.org/abs/2302.10174",
        source="https://github.com/WisconsinAIVision/UniversalFakeDetect",
        licence="MIT (UniversalFakeDetect); backbone: OpenAI CLIP (MIT)",
        input=dict(clip_input),
        training={"data": "ProGAN images of 20 LSUN classes + real LSUN (Wang et al. 2020 training set)",
                  "head": "Linear(768, 1) on frozen CLIP encode_image features; backbone not trained",
                  "test_transform": "no resize, centre crop 224, CLIP normalisation, sigmoid, thr 0.5"},
        backbones=["clip-vitl14-openai", "clip-vitl14-openai-hf"],
        files=[HubFile(
            filename="fc_weights.pth",
            url=("https://raw.githubusercontent.com/WisconsinAIVision/UniversalFakeDetect/"
                 f"{_UNIVFD_COMMIT}/pretrained_weights/fc_weights.pth"),
            sha256=_UNIVFD_FC_SHA,
            sha256_source="digest of pretrained_weights/fc_weights.pth in the repository (4,083 bytes)",
            size=4083,
            role="head",
            format="torch",
        )],
    ))
    entries.append(HubEntry(
        name="clip-vitl14-openai",
        kind="backbone",
        family="clip",
        architecture="ViT-L-14-quickgelu",
        description="OpenAI CLIP ViT-L/14 (original TorchScript release, as used by UnivFD)",
        paper="https://arxiv.org/abs/2103.00020",
        source="https://github.com/openai/CLIP",
        licence="MIT",
        open_clip={"model": "ViT-L-14-quickgelu", "pretrained": "openai"},
        files=[HubFile(
            filename="ViT-L-14.pt",
            url=("https://openaipublic.azureedge.net/clip/models/"
                 f"{_OPENAI_VITL14_SHA}/ViT-L-14.pt"),
            sha256=_OPENAI_VITL14_SHA,
            sha256_source="embedded in the URL (openai/CLIP clip/clip.py _MODELS, checked by its _download)",
            size=932768134,
            role="backbone",
            format="torchscript",
        )],
    ))
    entries.append(HubEntry(
        name="clip-vitl14-openai-hf",
        kind="backbone",
        family="clip",
        architecture="ViT-L-14-quickgelu",
        description="OpenAI CLIP ViT-L/14, same weights re-published by timm as safetensors (no code inside)",
        source="https://huggingface.co/timm/vit_large_patch14_clip_224.openai",
        licence="MIT",
        open_clip={"model": "ViT-L-14-quickgelu", "hf_hub": "hf-hub:timm/vit_large_patch14_clip_224.openai"},
        files=[HubFile(
            filename="open_clip_model.safetensors",
            url=_hf("timm/vit_large_patch14_clip_224.openai"),
            sha256=None, sha256_note=_NO_SHA_HF, role="backbone", format="safetensors",
        )],
    ))
    entries.append(HubEntry(
        name="clip-vitl14-laion2b",
        kind="backbone",
        family="clip",
        architecture="ViT-L-14",
        description="open_clip ViT-L/14 trained on LAION-2B (laion2b_s32b_b82k)",
        source="https://huggingface.co/laion/CLIP-ViT-L-14-laion2B-s32B-b82K",
        licence="MIT",
        open_clip={"model": "ViT-L-14", "pretrained": "laion2b_s32b_b82k",
                   "hf_hub": "hf-hub:laion/CLIP-ViT-L-14-laion2B-s32B-b82K"},
        files=[HubFile(
            filename="open_clip_model.safetensors",
            url=_hf("laion/CLIP-ViT-L-14-laion2B-s32B-b82K"),
            sha256=None, sha256_note=_NO_SHA_HF, role="backbone", format="safetensors",
        )],
    ))
    entries.append(HubEntry(
        name="clip-vitl14-commonpool-xl",
        kind="backbone",
        family="clip",
        architecture="ViT-L-14",
        description=("open_clip ViT-L/14 trained on DataComp CommonPool XL (commonpool_xl_s13b_b90k), "
                     "the backbone of Cozzolino et al. CVPR-W 2024"),
        source="https://huggingface.co/laion/CLIP-ViT-L-14-CommonPool.XL-s13B-b90K",
        licence="MIT",
        open_clip={"model": "ViT-L-14", "pretrained": "commonpool_xl_s13b_b90k",
                   "hf_hub": "hf-hub:laion/CLIP-ViT-L-14-CommonPool.XL-s13B-b90K"},
        files=[HubFile(
            filename="open_clip_model.safetensors",
            url=_hf("laion/CLIP-ViT-L-14-CommonPool.XL-s13B-b90K"),
            sha256=None, sha256_note=_NO_SHA_HF, role="backbone", format="safetensors",
        )],
    ))
    return entries


def load_registry(registry_file: Path | str | None = None) -> dict[str, HubEntry]:
    """Built-in entries, replaced/extended by ``registry_file`` (or ``$SYNTHDETECT_HUB_REGISTRY``).

    The override file is JSON: ``{"entries": [<HubEntry.to_dict()>, ...]}`` or a plain list.
    """
    reg = {e.name: e for e in _builtin()}
    path = registry_file or os.environ.get(ENV_REGISTRY)
    if path:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise HubError(f"cannot read hub registry file {path}: {e}") from e
        items = data.get("entries", []) if isinstance(data, dict) else data
        for d in items:
            try:
                e = HubEntry(**d)
            except (TypeError, ValueError) as err:
                raise HubError(f"bad entry in hub registry file {path}: {err}") from err
            reg[e.name] = e
    return reg


def get_entry(name: str, registry: dict[str, HubEntry] | None = None) -> HubEntry:
    reg = registry if registry is not None else load_registry()
    if name not in reg:
        raise HubError(f"no published model named {name!r}; known: {', '.join(sorted(reg))}")
    return reg[name]


def file_url(entry: HubEntry, hf: HubFile, base_url: str | None = None) -> str:
    """Original URL, or ``{base}/{entry}/{file}`` on a mirror (``$SYNTHDETECT_HUB_BASE_URL``)."""
    base = base_url if base_url is not None else os.environ.get(ENV_BASE_URL)
    if base:
        return f"{base.rstrip('/')}/{urllib.parse.quote(entry.name)}/{urllib.parse.quote(hf.filename)}"
    return hf.url


# --------------------------------------------------------------------------- cache


def cache_dir(override: Path | str | None = None) -> Path:
    if override:
        return Path(override).expanduser()
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser()
    from .cards import user_models_dir

    return user_models_dir().parent / "checkpoints"


def cached_path(entry: HubEntry, hf: HubFile, cache: Path | str | None = None) -> Path:
    return cache_dir(cache) / entry.name / hf.filename


def _tofu_path(cache: Path | str | None) -> Path:
    return cache_dir(cache) / TOFU_FILE


def recorded_digests(cache: Path | str | None = None) -> dict[str, dict[str, Any]]:
    p = _tofu_path(cache)
    if not p.exists():
        return {}
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise HubError(f"cannot read {p}: {e}") from e


def _record_digest(entry: HubEntry, hf: HubFile, digest: str, origin: str, cache: Path | str | None) -> None:
    p = _tofu_path(cache)
    p.parent.mkdir(parents=True, exist_ok=True)
    data = recorded_digests(cache)
    data[f"{entry.name}/{hf.filename}"] = {
        "sha256": digest,
        "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "origin": origin,
        "note": "trust on first use: no published digest",
    }
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(p)


def expected_digest(entry: HubEntry, hf: HubFile, cache: Path | str | None = None) -> tuple[str | None, str]:
    """(digest, where it comes from): ``registry``, ``recorded`` (trust on first use) or ``none``."""
    if hf.sha256:
        return hf.sha256, "registry"
    rec = recorded_digests(cache).get(f"{entry.name}/{hf.filename}")
    if rec:
        return rec["sha256"], "recorded"
    return None, "none"


def local_checkpoint(name: str, cache: Path | str | None = None, *,
                     registry: dict[str, HubEntry] | None = None) -> Path | None:
    """The cached raw checkpoint of entry ``name`` (its first file), or None when not cached.

    Used e.g. by ``train clip-probe --backbone-weights`` to reuse a pulled backbone.
    The file is returned only if its digest still matches the registry / recorded digest.
    """
    try:
        entry = get_entry(name, registry)
    except HubError:
        return None
    hf = entry.files[0]
    p = cached_path(entry, hf, cache)
    if not p.is_file():
        return None
    exp, _ = expected_digest(entry, hf, cache)
    if exp is not None and sha256_file(p) != exp:
        return None
    return p


def resolve_backbone(value: str, architecture: str) -> tuple[str, str | None]:
    """``--backbone-weights`` value -> (what to load, note).

    A backbone entry's name -> its verified cached checkpoint (HubError when it is not
    cached, altered, or of another architecture); the open_clip tag ``openai`` -> the cached
    OpenAI checkpoint of that architecture when one was pulled/imported (no network needed);
    anything else (a path, another tag, ``none``) is returned as given.
    """
    try:
        entries = {e.name: e for e in load_registry().values() if e.kind == "backbone"}
    except HubError:  # a broken user registry must not block training from a plain path
        entries = {}
    if value in entries:
        e = entries[value]
        if e.architecture and e.architecture != architecture:
            raise HubError(f"{value} is a {e.architecture} checkpoint; pass --backbone {e.architecture}")
        p = local_checkpoint(value)
        if p is None:
            raise HubError(f"{value}: not in the checkpoint cache (or its SHA-256 no longer matches); run "
                           f"`synthdetect weights pull {value}` or `synthdetect weights import {value} --from FILE`")
        return str(p), f"{value} -> {p}"
    if value == "openai":
        for e in entries.values():
            if e.open_clip.get("pretrained") == "openai" and e.architecture == architecture:
                p = local_checkpoint(e.name)
                if p is not None:
                    return str(p), f"openai -> cached {e.name} ({p})"
    return value, None


# --------------------------------------------------------------------------- download


def _host(url: str) -> str:
    u = urllib.parse.urlsplit(url)
    return u.netloc or u.scheme or url


def _offline(url: str, reason: Any, name: str) -> OfflineError:
    return OfflineError(
        f"cannot reach {_host(url)}: {reason} "
        f"(offline? use `synthdetect weights import {name} --from FILE`)"
    )


class _Progress:
    """A rich progress bar on stderr (silent when disabled)."""

    def __init__(self, enabled: bool, label: str, total: int | None, done: int):
        self.enabled = enabled
        self._p = None
        if enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, DownloadColumn, Progress, TimeRemainingColumn,
                                       TransferSpeedColumn)

            self._p = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                               TransferSpeedColumn(), TimeRemainingColumn(),
                               console=Console(stderr=True), transient=False)
            self._p.start()
            self._t = self._p.add_task(label, total=total, completed=done)

    def advance(self, n: int) -> None:
        if self._p is not None:
            self._p.advance(self._t, n)

    def close(self) -> None:
        if self._p is not None:
            self._p.stop()


def download(url: str, dest: Path | str, *, expected_sha256: str | None = None, name: str = "NAME",
             timeout: float = 30.0, retries: int = 2, progress: bool = True, chunk: int = 1 << 16,
             headers_log: list[dict[str, str]] | None = None) -> str:
    """Download ``url`` to ``dest`` through ``dest.part`` with resume; returns the file's SHA-256.

    * an existing ``.part`` is resumed with an HTTP ``Range`` request (a server that
      ignores it and answers 200 restarts the file from zero);
    * a dropped connection keeps the ``.part``; up to ``retries`` automatic resumes follow,
      then :class:`DownloadInterrupted` (the next call resumes);
    * unreachable host -> :class:`OfflineError`; HTTP errors -> :class:`HubError`;
    * digest mismatch -> :class:`ChecksumError`, and the ``.part`` is deleted.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    attempt = 0
    while True:
        try:
            _fetch_once(url, part, name=name, timeout=timeout, progress=progress, chunk=chunk,
                        headers_log=headers_log, label=dest.name)
            break
        except DownloadInterrupted:
            attempt += 1
            if attempt > retries:
                raise
            time.sleep(min(2.0 ** attempt * 0.25, 4.0))
    digest = sha256_file(part)
    if expected_sha256 is not None and digest != expected_sha256:
        part.unlink(missing_ok=True)
        raise ChecksumError(
            f"sha256 mismatch for {dest.name} from {_host(url)}: expected {expected_sha256}, got {digest} "
            f"(file discarded)"
        )
    part.replace(dest)
    return digest


def _fetch_once(url: str, part: Path, *, name: str, timeout: float, progress: bool, chunk: int,
                headers_log: list[dict[str, str]] | None, label: str) -> None:
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if have:
        req.add_header("Range", f"bytes={have}-")
    if headers_log is not None:
        headers_log.append(dict(req.header_items()))
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:
            # Range not satisfiable: the .part is already complete (or larger than the file).
            total = _content_range_total(e.headers.get("Content-Range"))
            if total is not None and total == have:
                return
            part.unlink(missing_ok=True)
            raise DownloadInterrupted(f"server refused to resume {label}; restarting") from e
        raise HubError(f"HTTP {e.code} {e.reason} for {url}") from e
    except urllib.error.URLError as e:
        raise _offline(url, e.reason, name) from e
    except (socket.timeout, TimeoutError, ConnectionError) as e:
        raise _offline(url, e, name) from e
    with resp:
        status = getattr(resp, "status", None) or 200
        if have and status == 206:
            start = _content_range_start(resp.headers.get("Content-Range"))
            if start is not None and start != have:
                part.unlink(missing_ok=True)
                raise DownloadInterrupted(f"server resumed {label} at byte {start}, not {have}; restarting")
            mode, done = "ab", have
        else:
            mode, done = "wb", 0
        length = resp.headers.get("Content-Length")
        body = int(length) if length and length.isdigit() else None
        total = (done + body) if body is not None else None
        bar = _Progress(progress, label, total, done)
        got = 0
        try:
            with open(part, mode) as f:
                while True:
                    try:
                        b = resp.read(chunk)
                    except (http.client.IncompleteRead, ConnectionError, socket.timeout, TimeoutError) as e:
                        f.write(getattr(e, "partial", b"") or b"")
                        raise DownloadInterrupted(
                            f"download of {label} interrupted after {done + got} bytes ({type(e).__name__}); "
                            f"run the same command again to resume"
                        ) from e
                    if not b:
                        break
                    f.write(b)
                    got += len(b)
                    bar.advance(len(b))
        finally:
            bar.close()
        if body is not None and got < body:
            raise DownloadInterrupted(
                f"download of {label} interrupted after {done + got} of {total} bytes; "
                f"run the same command again to resume"
            )


def _content_range_start(v: str | None) -> int | None:
    # "bytes 100-999/1000"
    try:
        return int(v.split()[1].split("-")[0]) if v else None
    except (IndexError, ValueError):
        return None


def _content_range_total(v: str | None) -> int | None:
    try:
        t = v.rsplit("/", 1)[1] if v else None
        return int(t) if t and t != "*" else None
    except (IndexError, ValueError):
        return None


# --------------------------------------------------------------------------- fetch / import


@dataclass
class Fetched:
    entry: str
    filename: str
    path: Path
    sha256: str
    check: str  # "registry" | "recorded" | "first-use"
    message: str = ""


def fetch(entry: HubEntry, *, cache: Path | str | None = None, base_url: str | None = None,
          timeout: float = 30.0, retries: int = 2, progress: bool = True, force: bool = False,
          log: Callable[[str], None] | None = None,
          headers_log: list[dict[str, str]] | None = None) -> list[Fetched]:
    """Download every file of ``entry`` into the cache (skipping verified cached files)."""
    out = []
    for hf in entry.files:
        dest = cached_path(entry, hf, cache)
        exp, origin = expected_digest(entry, hf, cache)
        if dest.is_file() and not force:
            got = sha256_file(dest)
            if exp is None or got == exp:
                out.append(Fetched(entry.name, hf.filename, dest, got, origin if exp else "first-use",
                                   "already cached"))
                if exp is None:
                    _record_digest(entry, hf, got, f"cached file {dest}", cache)
                continue
            dest.unlink()
        url = file_url(entry, hf, base_url)
        if log:
            log(f"downloading {hf.filename} from {_host(url)}")
        got = download(url, dest, expected_sha256=exp, name=entry.name, timeout=timeout, retries=retries,
                       progress=progress, headers_log=headers_log)
        if exp is None:
            try:  # nothing to compare with: at least refuse an HTML page before trusting it
                _check_format(entry, hf, dest)
            except HubError:
                dest.unlink(missing_ok=True)
                raise
        out.append(_checked(entry, hf, dest, got, exp, origin, url, cache))
    return out


def _checked(entry: HubEntry, hf: HubFile, dest: Path, got: str, exp: str | None, origin: str,
             src: str, cache: Path | str | None) -> Fetched:
    if exp is None:
        _record_digest(entry, hf, got, src, cache)
        return Fetched(entry.name, hf.filename, dest, got, "first-use",
                       f"no published sha256 for {hf.filename}; recorded {got} on first use (trust on first use)")
    return Fetched(entry.name, hf.filename, dest, got, origin, f"sha256 OK ({origin})")


def is_torchscript(path: Path | str) -> bool:
    """True for a TorchScript archive (zip with ``constants.pkl``): it carries code."""
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("/constants.pkl") or n == "constants.pkl" for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def detect_format(path: Path | str) -> str:
    """``torchscript`` | ``torch`` (torch.save zip or legacy pickle) | ``safetensors`` | ``unknown``."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return "unknown"
    if head[:4] == b"PK\x03\x04":
        return "torchscript" if is_torchscript(path) else "torch"
    if len(head) >= 9 and head[8:9] == b"{":  # u64 header length, then the JSON header
        return "safetensors"
    if head[:1] == b"\x80":  # pickle protocol >= 2 (legacy torch.save)
        return "torch"
    return "unknown"


def _check_format(entry: HubEntry, hf: HubFile, path: Path) -> None:
    fmt = detect_format(path)
    if fmt != hf.format:
        raise HubError(
            f"{path} is not the expected {hf.format} file for {entry.name}/{hf.filename} (looks like: {fmt}"
            f"{'; an HTML page or error text?' if fmt == 'unknown' else ''})"
        )


def import_files(entry: HubEntry, paths: Iterable[Path | str], *, cache: Path | str | None = None,
                 copy: bool = True) -> tuple[list[Fetched], list[Path]]:
    """Match local files to ``entry``'s files, verify digests and copy them into the cache.

    A file matches by digest (when known), else by file name, else when exactly one
    file and one path remain.  Returns (matched, unused paths).
    """
    import shutil

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
            _check_format(entry, hf, p)
        if exp is not None and got != exp:
            raise ChecksumError(
                f"sha256 mismatch for {p} as {entry.name}/{hf.filename}: expected {exp} ({origin}), got {got}"
            )
        dest = cached_path(entry, hf, cache)
        if copy and p.resolve() != dest.resolve():
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".part")
            shutil.copyfile(p, tmp)
            tmp.replace(dest)
        out.append(_checked(entry, hf, dest if copy else p, got, exp, origin, f"imported from {p}", cache))
    return out, remaining


# --------------------------------------------------------------------------- verify


@dataclass
class VerifyRow:
    kind: str  # model | checkpoint
    name: str
    path: str
    status: str  # OK | MISMATCH | MISSING | UNVERIFIED | PARTIAL
    detail: str = ""


def verify_all(models_dir: Path, *, cache: Path | str | None = None,
               registry: dict[str, HubEntry] | None = None) -> list[VerifyRow]:
    """Re-hash installed models (cards in ``models_dir``) and cached checkpoints."""
    from .cards import CardError, ModelCard

    rows: list[VerifyRow] = []
    if models_dir.is_dir():
        for cp in sorted(models_dir.glob("*.json")):
            if cp.name.endswith(".ensemble.json"):
                continue
            try:
                card = ModelCard.load(cp)
            except CardError as e:
                rows.append(VerifyRow("model", cp.stem, str(cp), "MISMATCH", f"unreadable card: {e}"))
                continue
            mp = card.model_path
            if not mp.is_file():
                rows.append(VerifyRow("model", card.name, str(mp), "MISSING", "model file missing"))
                continue
            got = sha256_file(mp)
            ok = got == card.sha256
            rows.append(VerifyRow("model", card.name, str(mp), "OK" if ok else "MISMATCH",
                                  got if ok else f"card {card.sha256}, file {got}"))
    reg = registry if registry is not None else load_registry()
    root = cache_dir(cache)
    for entry in reg.values():
        edir = root / entry.name
        if not edir.is_dir():
            continue
        for hf in entry.files:
            p = edir / hf.filename
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
                                      f"expected {exp} ({origin}), file {got}"))
    return rows


def default_install_dir(models_dir: Path | str | None = None) -> Path:
    """``--models-dir``, else the first ``$SYNTHDETECT_MODELS_DIR`` entry, else the user model dir."""
    from .cards import ENV_MODELS_DIR, user_models_dir

    if models_dir:
        return Path(models_dir).expanduser()
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        first = [p for p in env.split(os.pathsep) if p]
        if first:
            return Path(first[0]).expanduser()
    return user_models_dir()


__all__ = [
    "HubError", "OfflineError", "ChecksumError", "DownloadInterrupted", "HubFile", "HubEntry",
    "load_registry", "get_entry", "file_url", "cache_dir", "cached_path", "local_checkpoint", "resolve_backbone",
    "recorded_digests", "expected_digest", "download", "fetch", "import_files", "is_torchscript",
    "detect_format",
    "verify_all", "VerifyRow", "Fetched", "default_install_dir",
]
