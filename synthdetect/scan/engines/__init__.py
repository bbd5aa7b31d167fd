"""Alternative scan engines (the local engine is synthdetect.scan.pipeline.Scanner)."""
