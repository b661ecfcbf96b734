"""Integration-test harness for pyctr: real registries, images built from busybox.

- registry.py     start_registry(workdir, auth=None|"basic"|"token") -> Registry
- tokenissuer.py  TokenIssuer: the Docker token server behind auth="token"
- images.py       Layer / Image / Index built in memory, push(), populate(), hostile cases
- ocilayout.py    write_oci_layout(): an Image as an OCI layout for umoci, the reference unpacker
- podmanopts.py   records podman's options per command (tests/golden/podman-4.3.1-options.json)

The harness never imports pyctr: it checks the engine against independent code.
"""
