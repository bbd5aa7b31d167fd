import subprocess
import sys


def test_torchvision_imports_and_nms():
    from synthdetect.train import compat  # noqa: F401
    import torch
    import torchvision  # noqa: F401

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30.0], [0, 0, 10, 9.0]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95])
    keep = torch.ops.torchvision.nms(boxes, scores, 0.5)
    assert keep.tolist() == [3, 2]
    assert compat.nms_cpu(boxes, scores, 0.5).tolist() == [3, 2]
    assert compat.install() == compat.DEFINED  # idempotent


def test_training_cli_modules_are_torch_free():
    code = ("import sys, synthdetect.cli.train, synthdetect.cli.evaluate, synthdetect.cli.export, "
            "synthdetect.cli.ensemble, synthdetect.cli.backbone; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
