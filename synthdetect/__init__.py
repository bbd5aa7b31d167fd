"""synthdetect: detector of AI-generated images for forensic analysts.

The inference side (this package minus ``synthdetect.train``) needs only numpy,
Pillow and onnxruntime; PyTorch lives in ``synthdetect.train``.
"""

__version__ = "0.1.0"
