"""Tests of `envs`: tasks, config files, poses, cameras."""
