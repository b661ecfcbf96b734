"""Images: references, registries and credentials, pulls, the content store and the image index."""
