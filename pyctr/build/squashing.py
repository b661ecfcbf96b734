"""build --squash and --squash-all: the built image's new layers (or all its layers) as one, with
the history buildah writes for it: the new steps' entries all `empty_layer` but the last, which
carries the one layer and the comment `FROM <base>`; --squash-all drops the base's entries."""

from __future__ import annotations


def history(entries: list[dict], base, *, keep_base: bool) -> list[dict]:
    count = len(base.config.get("history") or [])
    kept, new = list(entries[:count]), []
    for entry in entries[count:]:
        entry = {k: v for k, v in entry.items() if k not in ("comment", "empty_layer")}
        entry["empty_layer"] = True
        new.append(entry)
    if new:
        del new[-1]["empty_layer"]
        if base.base_name:
            new[-1]["comment"] = f"FROM {base.base_name}"
    return (kept if keep_base else []) + new


def layer(services, builder, state, below, timestamp: int | None):
    """The layer from `below` (a state, or None: nothing) to `state`, made from read-only mounts of
    both -> (layers, diff_ids, chain_ids) of the squashed image."""
    from pyctr.build.runstep import BuildDir
    from pyctr.image import squash

    build_dir = BuildDir(services.config, services.tasks.runc, services.images.layers)
    try:
        top = build_dir.image_root(list(state.chain_ids))
        bottom = build_dir.image_root(list(below.chain_ids)) if below is not None and below.chain_ids else None
        parent = below.chain_ids[-1] if below is not None and below.chain_ids else None
        desc, diff_id, chain_id = builder.maker.layer(lambda out: squash.write_diff(top, bottom, out, mtime=timestamp),
                                                      parent)
    finally:
        build_dir.close()
    if below is None:
        return [desc], [diff_id], [chain_id]
    return list(below.layers) + [desc], list(below.diff_ids) + [diff_id], list(below.chain_ids) + [chain_id]


def whole_tree_layer(services, maker, upper, chain_ids: list[str]):
    """commit --squash: the container's whole tree (its upper directory over its image's layers)
    as one layer -> its (descriptor, diff_id, chain_id)."""
    import os

    from pyctr.build.runstep import BuildDir
    from pyctr.image import squash
    from pyctr.linux import mount as mountmod

    layers = services.images.layers
    lowers = ([str(upper)] if os.path.isdir(upper) else []) + [str(layers.link(c)) for c in reversed(chain_ids)]
    build_dir = BuildDir(services.config, services.tasks.runc, layers)
    try:
        top = build_dir.image_root([])  # an empty directory, unmounted with the others at close()
        if len(lowers) == 1:
            mountmod.mount_at(mountmod.Mount("bind", lowers[0], options=("ro",)), top)
        elif lowers:
            rootless = services.config.rootless
            mountmod.mount_at(mountmod.Mount("overlay", "overlay", options=(mountmod.USERXATTR,) if rootless else (),
                                             lowerdirs=tuple(lowers)), top)
        return maker.layer(lambda out: squash.write_diff(top, None, out), None)
    finally:
        build_dir.close()
