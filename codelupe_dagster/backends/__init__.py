"""Clients for the systems CodeLupe talks to, free of Dagster so the CLI and resources share them."""
