"""TLS material for a registry, read as containers/image reads a certs directory: every `*.crt`
is a CA to trust (besides the system's), every `*.cert` with its `*.key` a client certificate.
Without --cert-dir, /etc/containers/certs.d/HOST[:PORT] and /etc/docker/certs.d/HOST[:PORT]."""

from __future__ import annotations

import os
import ssl

from pyctr.errors import InvalidArgument

SYSTEM_DIRS = ("/etc/containers/certs.d", "/etc/docker/certs.d")


def directories(host: str, cert_dir: str | None) -> list[str]:
    if cert_dir:
        return [cert_dir]
    return [d for d in (os.path.join(base, host) for base in SYSTEM_DIRS) if os.path.isdir(d)]


def context(host: str, cert_dir: str | None) -> ssl.SSLContext | None:
    """An SSL context with the certs directory's CAs and client certificate; None when there is
    nothing to add (the system's defaults then)."""
    dirs = directories(host, cert_dir)
    entries = []
    for directory in dirs:
        try:
            entries += [os.path.join(directory, name) for name in sorted(os.listdir(directory))]
        except FileNotFoundError:
            continue  # as containers/image: a certs directory that is not there adds nothing
        except OSError as exc:
            raise InvalidArgument(f"reading certificates in {directory}: {exc.strerror}") from None
    if not entries:
        return None
    ctx = ssl.create_default_context()
    try:
        for path in entries:
            if path.endswith(".crt"):
                ctx.load_verify_locations(cafile=path)
            elif path.endswith(".cert"):
                key = path[: -len(".cert")] + ".key"
                if not os.path.exists(key):
                    raise InvalidArgument(f"missing key {os.path.basename(key)} for client certificate "
                                          f"{os.path.basename(path)}. Note that CA certificates should use the extension .crt")
                ctx.load_cert_chain(path, key)
            elif path.endswith(".key") and not os.path.exists(path[: -len(".key")] + ".cert"):
                raise InvalidArgument(f"missing client certificate {os.path.basename(path)[:-4]}.cert for key "
                                      f"{os.path.basename(path)}")
    except (ssl.SSLError, OSError) as exc:
        raise InvalidArgument(f"loading certificates from {os.path.dirname(entries[0])}: {exc}") from None
    return ctx
