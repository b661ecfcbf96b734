"""Unpacked layers: the layer store, the hardened layer unpacker, and the mounts of a stack of layers."""
