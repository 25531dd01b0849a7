"""Dagster-free stage logic that assets, sensors and the CLI all call."""
