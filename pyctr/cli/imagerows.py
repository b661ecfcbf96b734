"""`images`' rows as the fields its `--format` templates name (without typer: cli/fast.py uses it too)."""

from pyctr import units


def display_rows(rows, *, no_trunc: bool) -> list[dict]:
    """The engine's image rows as the fields `--format` templates name."""
    from pyctr.units import go_time

    out = []
    for row in rows:
        rec = row.record
        created_ts = units.parse_created(rec.created)
        out.append({
            "ID": f"sha256:{rec.id}" if no_trunc else rec.id[:12],
            "Id": rec.id,
            "Digest": rec.manifest_digest,
            "Created": units.since(created_ts),  # imageReporter's methods: human, and Go's time.Time
            "CreatedAt": go_time(created_ts or 0),
            "CreatedSince": units.since(created_ts),
            "CreatedTime": go_time(created_ts or 0),
            "SharedSize": 0,
            "ParentId": "",
            "IsReadOnly": False,
            "Labels": {},
            "Containers": 0,
            "Size": units.human_size(rec.size),
            "VirtualSize": rec.size,
            "Names": list(rec.names) + list(rec.digest_names),
            "RepoTags": list(rec.names),
            "RepoDigests": list(rec.repo_digests),
            "History": ", ".join(rec.names_history or rec.names),
            "Dangling": not rec.names and not rec.digest_names,
            "ReadOnly": False,
            "Repository": row.repository,
            "Tag": row.tag,
        })
    return out
