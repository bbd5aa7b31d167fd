"""Tests of synthdetect.inputs."""
