"""The built-in published checkpoints, as plain data.

One dict per entry, in the schema of ``HubEntry.to_dict()`` (the same as a
``$SYNTHDETECT_HUB_REGISTRY`` JSON file, see docs/weights.md).  Keep the *original* URL
of every file and its SHA-256 when the authors (or the URL itself) publish one; where
none is published, say so in ``sha256_note`` and the digest of the first file pulled or
imported is recorded (trust on first use).

Add a checkpoint: append one dict to ``BUILTIN``.  A detector's ``converter`` picks its
loader in ``synthdetect.train.published.CONVERTERS`` (``cnndetection``: a ResNet state
dict; ``univfd``: a linear head on a CLIP backbone listed in ``backbones``).  Backbones
need ``open_clip`` (``model`` or ``model_cfg``).  ``tests/hub/test_catalog.py`` checks
every entry.
"""

from __future__ import annotations

from typing import Any

from ..cards import CLIP_MEAN, CLIP_STD, IMAGENET_MEAN, IMAGENET_STD

CNN_INPUT = {"size": 224, "resize": "none", "crop": "center", "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}
CLIP_INPUT = {"size": 224, "resize": "none", "crop": "center", "mean": list(CLIP_MEAN), "std": list(CLIP_STD)}

NO_SHA_CNNDET = (
    "not published: CNNDetection's weights/download_weights.sh gives only Dropbox links; "
    "the digest of the first file pulled/imported is recorded (trust on first use)"
)
NO_SHA_HF = (
    "not recorded here: the Hugging Face file page lists the LFS SHA-256, which could not be "
    "read when this registry was written; the digest of the first file pulled/imported is "
    "recorded (trust on first use) - compare it with the file page"
)
CNNDET_TRAINING_DATA = "ProGAN images of 20 LSUN classes + real LSUN (Wang et al. 2020 training set)"

BUILTIN: list[dict[str, Any]] = [
    {
        "name": "cnndetection-blur-jpg-prob0.5",
        "kind": "detector",
        "family": "cnndetection",
        "architecture": "resnet50",
        "converter": "cnndetection",
        "description": ("Wang et al. CVPR 2020 'CNN-generated images are surprisingly easy to spot... "
                        "for now': ResNet-50 trained on ProGAN with blur+JPEG augmentation p=0.5"),
        "paper": "https://arxiv.org/abs/1912.11035",
        "source": "https://github.com/PeterWang512/CNNDetection",
        "licence": "CC BY-NC-SA 4.0 (CNNDetection repository licence)",
        "input": CNN_INPUT,
        "training": {"data": CNNDET_TRAINING_DATA,
                     "augmentation": "Gaussian blur sigma~U[0,3] and JPEG q~U{30..100}, each with p=0.5",
                     "test_transform": "no resize, centre crop 224, ImageNet normalisation, sigmoid, thr 0.5"},
        "files": [{
            "filename": "blur_jpg_prob0.5.pth",
            # weights/download_weights.sh uses ?dl=0 with wget; dl=1 asks Dropbox for the raw file.
            "url": "https://www.dropbox.com/s/2g2jagq2jn1fd0i/blur_jpg_prob0.5.pth?dl=1",
            "sha256": None, "sha256_note": NO_SHA_CNNDET, "role": "checkpoint", "format": "torch",
        }],
    },
    {
        "name": "cnndetection-blur-jpg-prob0.1",
        "kind": "detector",
        "family": "cnndetection",
        "architecture": "resnet50",
        "converter": "cnndetection",
        "description": ("Wang et al. CVPR 2020 'CNN-generated images are surprisingly easy to spot... "
                        "for now': ResNet-50 trained on ProGAN with blur+JPEG augmentation p=0.1"),
        "paper": "https://arxiv.org/abs/1912.11035",
        "source": "https://github.com/PeterWang512/CNNDetection",
        "licence": "CC BY-NC-SA 4.0 (CNNDetection repository licence)",
        "input": CNN_INPUT,
        "training": {"data": CNNDET_TRAINING_DATA,
                     "augmentation": "Gaussian blur sigma~U[0,3] and JPEG q~U{30..100}, each with p=0.1",
                     "test_transform": "no resize, centre crop 224, ImageNet normalisation, sigmoid, thr 0.5"},
        "files": [{
            "filename": "blur_jpg_prob0.1.pth",
            "url": "https://www.dropbox.com/s/h7tkpcgiwuftb6g/blur_jpg_prob0.1.pth?dl=1",
            "sha256": None, "sha256_note": NO_SHA_CNNDET, "role": "checkpoint", "format": "torch",
        }],
    },
    {
        "name": "univfd-clip-vitl14",
        "kind": "detector",
        "family": "univfd",
        "architecture": "clip-vit-l-14+linear",
        "converter": "univfd",
        "description": ("Ojha et al. CVPR 2023 'Towards Universal Fake Image Detectors...': frozen OpenAI "
                        "CLIP ViT-L/14 image features (768-d) + linear head trained on ProGAN"),
        "paper": "https://arxiv.org/abs/2302.10174",
        "source": "https://github.com/WisconsinAIVision/UniversalFakeDetect",
        "licence": "MIT (UniversalFakeDetect); backbone: OpenAI CLIP (MIT)",
        "input": CLIP_INPUT,
        "training": {"data": CNNDET_TRAINING_DATA,
                     "head": "Linear(768, 1) on frozen CLIP encode_image features; backbone not trained",
                     "test_transform": "no resize, centre crop 224, CLIP normalisation, sigmoid, thr 0.5"},
        "backbones": ["clip-vitl14-openai", "clip-vitl14-openai-hf"],
        "files": [{
            "filename": "fc_weights.pth",
            "url": ("https://raw.githubusercontent.com/WisconsinAIVision/UniversalFakeDetect/"
                    "030495aea3300a8b54c0ec37ec7fe1dd7e63c619/pretrained_weights/fc_weights.pth"),
            "sha256": "477100745713bcc957beb2b40859536859b6483fd6301b3b9293151b194c7847",
            "sha256_source": "digest of pretrained_weights/fc_weights.pth in the repository (4,083 bytes)",
            "size": 4083, "role": "head", "format": "torch",
        }],
    },
    {
        "name": "clip-vitl14-openai",
        "kind": "backbone",
        "family": "clip",
        "architecture": "ViT-L-14-quickgelu",
        "description": "OpenAI CLIP ViT-L/14 (original TorchScript release, as used by UnivFD)",
        "paper": "https://arxiv.org/abs/2103.00020",
        "source": "https://github.com/openai/CLIP",
        "licence": "MIT",
        "open_clip": {"model": "ViT-L-14-quickgelu", "pretrained": "openai"},
        "files": [{
            "filename": "ViT-L-14.pt",
            "url": ("https://openaipublic.azureedge.net/clip/models/"
                    "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836/ViT-L-14.pt"),
            "sha256": "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836",
            "sha256_source": "embedded in the URL (openai/CLIP clip/clip.py _MODELS, checked by its _download)",
            "size": 932768134, "role": "backbone", "format": "torchscript",
        }],
    },
    {
        "name": "clip-vitl14-openai-hf",
        "kind": "backbone",
        "family": "clip",
        "architecture": "ViT-L-14-quickgelu",
        "description": "OpenAI CLIP ViT-L/14, same weights re-published by timm as safetensors (no code inside)",
        "source": "https://huggingface.co/timm/vit_large_patch14_clip_224.openai",
        "licence": "MIT",
        "open_clip": {"model": "ViT-L-14-quickgelu", "hf_hub": "hf-hub:timm/vit_large_patch14_clip_224.openai"},
        "files": [{
            "filename": "open_clip_model.safetensors",
            "url": ("https://huggingface.co/timm/vit_large_patch14_clip_224.openai/resolve/main/"
                    "open_clip_model.safetensors"),
            "sha256": None, "sha256_note": NO_SHA_HF, "role": "backbone", "format": "safetensors",
        }],
    },
    {
        "name": "clip-vitl14-laion2b",
        "kind": "backbone",
        "family": "clip",
        "architecture": "ViT-L-14",
        "description": "open_clip ViT-L/14 trained on LAION-2B (laion2b_s32b_b82k)",
        "source": "https://huggingface.co/laion/CLIP-ViT-L-14-laion2B-s32B-b82K",
        "licence": "MIT",
        "open_clip": {"model": "ViT-L-14", "pretrained": "laion2b_s32b_b82k",
                      "hf_hub": "hf-hub:laion/CLIP-ViT-L-14-laion2B-s32B-b82K"},
        "files": [{
            "filename": "open_clip_model.safetensors",
            "url": ("https://huggingface.co/laion/CLIP-ViT-L-14-laion2B-s32B-b82K/resolve/main/"
                    "open_clip_model.safetensors"),
            "sha256": None, "sha256_note": NO_SHA_HF, "role": "backbone", "format": "safetensors",
        }],
    },
    {
        "name": "clip-vitl14-commonpool-xl",
        "kind": "backbone",
        "family": "clip",
        "architecture": "ViT-L-14",
        "description": ("open_clip ViT-L/14 trained on DataComp CommonPool XL (commonpool_xl_s13b_b90k), "
                        "the backbone of Cozzolino et al. CVPR-W 2024"),
        "source": "https://huggingface.co/laion/CLIP-ViT-L-14-CommonPool.XL-s13B-b90K",
        "licence": "MIT",
        "open_clip": {"model": "ViT-L-14", "pretrained": "commonpool_xl_s13b_b90k",
                      "hf_hub": "hf-hub:laion/CLIP-ViT-L-14-CommonPool.XL-s13B-b90K"},
        "files": [{
            "filename": "open_clip_model.safetensors",
            "url": ("https://huggingface.co/laion/CLIP-ViT-L-14-CommonPool.XL-s13B-b90K/resolve/main/"
                    "open_clip_model.safetensors"),
            "sha256": None, "sha256_note": NO_SHA_HF, "role": "backbone", "format": "safetensors",
        }],
    },
]
