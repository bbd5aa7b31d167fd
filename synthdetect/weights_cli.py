from .cli.weights import weights_app  # noqa: F401  # moved: see synthdetect/cli/weights.py
