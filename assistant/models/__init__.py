"""Base models: the catalog, resolution to loadable folders (incl. the embedded GGUF), and estimates."""
