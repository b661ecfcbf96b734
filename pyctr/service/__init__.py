"""The optional service: the Docker Engine API over the same engine (`pyctr system service`).

A front end like pyctr.cli: it parses HTTP requests, calls pyctr.Engine (in a thread pool: the
engine blocks) and shapes the answers as the Docker API does. It keeps no state of its own beyond
what is in flight (an exec session created and not started yet, an attach waiting for its start),
so the command line and other services see and change the same containers. The core never imports
this package; it needs the `pyctr[service]` extra (aiohttp).
"""
