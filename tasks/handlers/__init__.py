"""Task types: the registry that maps a type name to its handler (registry.py)
and the built-in types that do real work (builtin.py; image.py: thumbnails with Pillow)."""
