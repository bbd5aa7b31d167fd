"""Tests of synthdetect.scan."""
