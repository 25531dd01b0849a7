"""Where repositories come from: GitHub search, a local directory or URL list, and samples."""
