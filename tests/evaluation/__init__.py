"""Tests of synthdetect.evaluation."""
