"""Tests of `augment`: annotation, the Mimic spec, generation."""
