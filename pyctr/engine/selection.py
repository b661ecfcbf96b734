"""Which containers a command acts on, as podman chooses them: names, --all, --latest, --cidfile,
--filter; and the `ps` filters and sort orders. Pure functions of summaries, no I/O but reading
--cidfile files; the engine (engine.containers) supplies the summaries."""

from __future__ import annotations

import re
TYPE_CHECKING = False  # (not typing's: importing typing costs every command ~2 ms; type checkers read it as True)

from pyctr.errors import ContainerNotFound, InvalidArgument

if TYPE_CHECKING:
    from typing import Callable
    from pyctr.engine.containers import ContainerSummary

# podman 4.3.1's ps filter keys.
FILTER_KEYS = ("id", "name", "label", "status", "ancestor", "before", "since", "exited", "volume", "health",
               "until", "network", "pod", "restart-policy")
# What `--filter restart-policy=` knows: none is a container made without --restart (here: no).
RESTART_POLICY_WORDS = ("none", "no", "always", "on-failure", "unless-stopped")
# The states `--filter status=` knows (podman's define.ContainerStatus names).
STATUS_WORDS = ("created", "running", "paused", "stopped", "exited", "unknown", "removing")
SORT_KEYS = ("command", "created", "id", "image", "names", "runningfor", "size", "status")


def check_targets(names: list[str], *, all_containers: bool = False, latest: bool = False,
                  cidfiles: list[str] | None = None, filters: list[str] | None = None) -> None:
    """podman's checks of a bulk command's arguments (validate.CheckAllLatestAndIDFile): its
    texts, in its order. With --filter nothing else is checked (the filter chooses)."""
    if filters:
        if names:
            raise InvalidArgument("--filter takes no arguments")
        return
    if cidfiles and (all_containers or latest):
        raise InvalidArgument("--all, --latest, and --cidfile cannot be used together")
    if all_containers and latest:
        raise InvalidArgument("--all and --latest cannot be used together")
    if names and all_containers:
        raise InvalidArgument("no arguments are needed with --all")
    if names and latest:
        raise InvalidArgument("--latest and containers cannot be used together")
    if names and cidfiles:
        raise InvalidArgument("no arguments are needed with --latest or --cidfile")
    if not (names or all_containers or latest or cidfiles):
        raise InvalidArgument("you must provide at least one name or id")


def check_start_targets(names: list[str], *, all_containers: bool = False, latest: bool = False,
                        filters: list[str] | None = None, attach: bool = False) -> None:
    """`start`'s own checks of its arguments (podman's validateStart, its texts and order)."""
    if not (names or latest or all_containers or filters):
        raise InvalidArgument("start requires at least one argument")
    if all_containers and latest:
        raise InvalidArgument("--all and --latest cannot be used together")
    if names and latest:
        raise InvalidArgument("--latest and containers cannot be used together")
    if len(names) > 1 and attach:
        raise InvalidArgument("you cannot start and attach multiple containers at once")
    if (names or latest) and all_containers:
        raise InvalidArgument("either start all containers or the container(s) provided in the arguments")
    if attach and all_containers:
        raise InvalidArgument("you cannot start and attach all containers at once")


def read_cidfiles(paths: list[str], what: str = "CIDFile") -> list[str]:
    """The IDs written by `run|create --cidfile` (or `pod create --pod-id-file`: what="pod ID file")."""
    ids = []
    for path in paths:
        try:
            with open(path) as f:
                ids.append(f.read().strip())
        except OSError as exc:
            raise InvalidArgument(f"reading {what}: open {path}: {(exc.strerror or str(exc)).lower()}") from None
    return ids


def latest(rows: list["ContainerSummary"]) -> "ContainerSummary":
    """The container created last (podman's --latest)."""
    if not rows:
        raise ContainerNotFound("no such container")
    return max(rows, key=lambda r: r.created)


# -- filters -----------------------------------------------------------------------------------

def parse_filters(items: list[str] | None, lookup: Callable[[str], "ContainerSummary"]) -> Callable[["ContainerSummary"], bool]:
    """A predicate for `--filter KEY=VALUE ...`: values of one key are alternatives (OR), different
    keys must all match (AND), and labels must all match (as podman). `lookup(name)` finds the
    container that before= and since= name. Bad input is InvalidArgument, in podman's words."""
    from pyctr import filters

    parsed = filters.parse(items, FILTER_KEYS, malformed='invalid filter "{item}"', unknown="{key} is an invalid filter")
    tests = [_filter(key, values, lookup) for key, values in parsed.items()]
    return lambda row: all(test(row) for test in tests)


def _filter(key: str, values: list[str], lookup) -> Callable[["ContainerSummary"], bool]:
    if key == "pod":  # a pod's name, or its ID or a prefix of it (a pod that does not exist matches nothing)
        return lambda row: bool(row.pod) and any(row.pod_name == v or row.pod.startswith(v) for v in values)
    if key == "network":  # by the network's name (bridge networks; the other modes connect to none)
        return lambda row: any(v in row.networks for v in values)
    if key == "id":
        return lambda row: any(row.id.startswith(v) for v in values)
    if key == "name":
        patterns = [_regex(v) for v in values]
        return lambda row: any(p.search(row.name) for p in patterns)
    if key == "label":
        from pyctr.filters import label_matches

        return lambda row: all(label_matches(row.labels, v) for v in values)
    if key == "status":
        for v in values:
            if v not in STATUS_WORDS:
                raise InvalidArgument(f"unknown container state: {v}: invalid argument")
        return lambda row: _state_word(row) in values or ("stopped" in values and row.state == "exited")
    if key == "ancestor":
        return lambda row: any(_ancestor(row, v) for v in values)
    if key in ("before", "since"):
        times = [lookup(v).created for v in values]
        if key == "before":
            return lambda row: any(row.created < t for t in times)
        return lambda row: any(row.created > t for t in times)
    if key == "exited":
        codes = []
        for v in values:
            try:
                codes.append(int(v))
            except ValueError:
                raise InvalidArgument(f"exited code out of range {v!r}: invalid syntax") from None
        return lambda row: row.state == "exited" and row.exit_code in codes
    if key == "volume":
        return lambda row: any(v in row.mounts or v in row.volumes for v in values)
    if key == "health":  # (podman accepts any word: an unknown one matches nothing)
        return lambda row: (row.health or "none") in values
    if key == "restart-policy":
        wrong = [v for v in values if v not in RESTART_POLICY_WORDS]
        if wrong:
            raise InvalidArgument(f"{', '.join(wrong)} invalid restart {'policy' if len(wrong) == 1 else 'policies'}")
        return lambda row: row.restart_policy in values or (row.restart_policy == "no" and "none" in values)
    # until: created before the time
    from pyctr.filters import until_time

    times = [until_time(v) for v in values]
    return lambda row: any(row.created < t for t in times)


def _regex(value: str) -> "re.Pattern":
    try:
        return re.compile(value)
    except re.error:
        return re.compile(r"(?!)")  # as podman: a pattern that does not compile matches nothing


def _state_word(row: "ContainerSummary") -> str:
    """podman's name for the state: stopping is still running for a filter."""
    return "running" if row.state == "stopping" else row.state


def _ancestor(row: "ContainerSummary", value: str) -> bool:
    """podman 4.3.1: the full image ID, the image name as given at create, or that name without
    its `:latest`."""
    name, _, tag = row.image.rpartition(":")
    if "/" in tag:  # a registry port, no tag
        name, tag = row.image, ""
    return value in (row.image_id, row.image) or (tag == "latest" and value == name)


# -- sorting -----------------------------------------------------------------------------------

def sort_rows(rows: list["ContainerSummary"], key: str) -> list["ContainerSummary"]:
    """ps --sort: podman's orders (created: oldest first; runningfor: the newest first)."""
    if key not in SORT_KEYS:
        raise InvalidArgument(f'invalid argument "{key}" for "--sort" flag: "{key}" is not a valid value.  '
                              f'Choose from: "{", ".join(SORT_KEYS)}"')
    keys = {
        "command": lambda r: " ".join(r.command),
        "created": lambda r: r.created,
        "id": lambda r: r.id,
        "image": lambda r: r.image,
        "names": lambda r: r.name,
        "runningfor": lambda r: -r.created,
        "size": lambda r: r.rw_size if r.rw_size >= 0 else 0,
        "status": lambda r: r.state,
    }
    return sorted(rows, key=keys[key])


def wait_interval(text: str) -> float:
    """`wait --interval`: a Go duration, or a bare number of milliseconds (as podman); seconds."""
    from pyctr.units import parse_duration

    if text.isdigit():
        return int(text) / 1000
    try:
        return parse_duration(text)
    except ValueError:
        raise InvalidArgument(f'time: invalid duration "{text}"') from None
