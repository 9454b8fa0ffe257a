"""Tests of `recorder`: devices, action banks, the dataset layer, training, the CLI."""
