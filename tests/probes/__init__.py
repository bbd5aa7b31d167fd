"""Tests of synthdetect.probes."""
