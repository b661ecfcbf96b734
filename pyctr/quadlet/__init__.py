"""Quadlet: `*.container`, `*.volume`, `*.network` and `*.kube` files become systemd units, through
a systemd generator (as podman 4.4's quadlet).

    unitfile   systemd's unit-file syntax: parse (keeping lines, for errors), edit, write; Exec words
    common     what the converters share (the pyctr command line, keys, references between files)
    container, volume, network, kube   one converter per file type
    generator  finds the files, converts them, writes units and [Install] links (systemd's entry)
    install    puts the generator into /etc/systemd/{system,user}-generators
"""
