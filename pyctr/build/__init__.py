"""pyctr build: Containerfiles to images."""
