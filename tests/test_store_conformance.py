"""Store conformance: every on-disk store keeps the promises of DESIGN.md "State on disk".

There is no daemon to serialise pyctr processes: each one writes the stores directly, under file
locks, with crash-safe renames. One suite runs against each store (content blobs, unpacked layers,
image records, container records) through a small adapter that maps "key -> version" onto it:

- concurrent writers: processes write the same key and their own keys at once; afterwards every
  key is there and whole, and nothing is duplicated (one creator wins a race for a new key);
- a crash between steps: a writer is SIGKILLed right after its 1st, 2nd, 3rd ... filesystem call
  (an os-level hook armed in the child only) until it gets through; after each kill the entry is
  absent (or still the old one) or whole, leftovers break no listing, and the next writer succeeds;
- a reader during a write: the reader never sees a partial or invalid entry.

Writers and victims are real processes (multiprocessing's 'fork' context, so they start in
milliseconds) on a real filesystem under tmp_path.
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import random
import signal
import tarfile
import time
from pathlib import Path

import pytest

from pyctr import digest as digestmod
from pyctr.config import Config
from pyctr.container.spec import ContainerSpec
from pyctr.container.store import ContainerStore
from pyctr.errors import ContainerNotFound, NameInUse, StoreError
from pyctr.image.content import ContentStore
from pyctr.image.index import ImageIndex, ImageRecord
from pyctr.linux.fsutil import locked
from pyctr.snapshot.layers import LayerStore, link_name

CTX = multiprocessing.get_context("fork")
CHILD_TIMEOUT = 30.0
EXIT_TRUE, EXIT_FALSE = 10, 11  # how a child reports a boolean result


class Torn(AssertionError):
    """An entry seen half-written, invalid, or duplicated."""


# -- processes ---------------------------------------------------------------------------------

# Calls that change the filesystem (or open a file): each is one "step" after which a victim dies.
_STEPS = ("open", "write", "pwrite", "fsync", "fdatasync", "ftruncate", "truncate", "rename", "replace",
          "mkdir", "rmdir", "unlink", "remove", "link", "symlink", "mknod", "chmod", "fchmod", "chown",
          "fchown", "lchown", "utime", "setxattr")


def _arm_crash(at: int) -> dict:
    """Make this process SIGKILL itself right after its `at`-th step; returns the originals."""
    originals = {name: getattr(os, name) for name in _STEPS if hasattr(os, name)}
    count = 0

    def wrap(fn):
        def step(*args, **kwargs):
            nonlocal count
            result = fn(*args, **kwargs)
            count += 1
            if count == at:
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        return step

    for name, fn in originals.items():
        setattr(os, name, wrap(fn))
    return originals


def _child_main(fn, args, crash_at: int | None) -> None:
    originals = _arm_crash(crash_at) if crash_at else {}
    try:
        result = fn(*args)
    finally:
        for name, fn_ in originals.items():  # multiprocessing's own exit must not count as a step
            setattr(os, name, fn_)
    raise SystemExit(EXIT_TRUE if result is True else EXIT_FALSE if result is False else 0)


def run_children(jobs: list[tuple], crash_at: int | None = None) -> list[int]:
    """Run each (fn, *args) in a forked process at once; return their exit codes (-9: SIGKILL)."""
    procs = [CTX.Process(target=_child_main, args=(job[0], job[1:], crash_at)) for job in jobs]
    for p in procs:
        p.start()
    deadline = time.monotonic() + CHILD_TIMEOUT
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    hung = [p for p in procs if p.is_alive()]
    for p in hung:
        p.kill()
        p.join()
    assert not hung, f"{len(hung)} store process(es) hung for {CHILD_TIMEOUT}s (a lock never released?)"
    return [p.exitcode for p in procs]


# -- adapters: one per store -----------------------------------------------------------------

def _hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _pad(key: str, version: int) -> str:
    """Bulk that ties a record to its key and version, so that a torn record cannot pass."""
    return f"{key}/{version};" * 400


class Adapter:
    """A store seen as key -> version. `versioned` stores replace an entry on put; the others are
    immutable (content-addressed): put of an existing key is a no-op and every version reads 0."""

    versioned = True

    def __init__(self, root: Path):
        self.root = root

    def expect(self, version: int) -> int:
        return version if self.versioned else 0

    def prepare(self, keys) -> None:
        """Make inputs (e.g. layer tarballs) in the parent, so that no child's steps go to them."""

    def put(self, key: str, version: int) -> None:
        raise NotImplementedError

    def create(self, key: str) -> bool:
        """Create the entry if absent; whether this call was the one that created it."""
        raise NotImplementedError

    def get(self, key: str) -> int | None:
        """The version stored, None if absent; raises Torn for anything partial or invalid."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def keys(self) -> set[str]:
        """The keys the store lists, each checked whole; raises Torn on duplicates."""
        raise NotImplementedError


class ContentAdapter(Adapter):
    """pyctr/image/content.py: a blob per key, ingested in chunks and resumed after a crash, as pull does."""

    kind = "content"
    versioned = False
    CHUNK = 64 << 10

    def __init__(self, root: Path):
        super().__init__(root)
        self.store = ContentStore(root)

    @staticmethod
    def payload(key: str) -> bytes:
        return f"key={key}\n".encode() + random.Random(key).randbytes(3 * ContentAdapter.CHUNK + 777)

    def _digest(self, key: str) -> str:
        return digestmod.of_bytes(self.payload(key))

    def _ingest(self, key: str) -> bool:
        data = self.payload(key)
        with self.store.writer(digestmod.of_bytes(data), len(data)) as w:
            if w.committed:
                return False
            pos = w.offset  # resume what a killed writer left, as a ranged download would
            while pos < len(data):
                w.write(data[pos : pos + self.CHUNK])
                pos += self.CHUNK
            w.commit()
            return True

    def put(self, key, version):
        self._ingest(key)

    def create(self, key):
        return self._ingest(key)

    def _check_blob(self, digest: str) -> bytes | None:
        try:
            data = self.store.read(digest)
        except FileNotFoundError:
            return None
        if digestmod.of_bytes(data) != digest:
            raise Torn(f"blob {digest} holds {len(data)} bytes that do not match its digest")
        return data

    def get(self, key):
        return None if self._check_blob(self._digest(key)) is None else 0

    def delete(self, key):
        self.store.delete(self._digest(key))

    def keys(self):
        found = set()
        for digest in self.store.all_digests():
            data = self._check_blob(digest)
            if data is not None:
                found.add(data.split(b"\n", 1)[0].decode().removeprefix("key="))
        return found


class LayerAdapter(Adapter):
    """pyctr/snapshot/layers.py: a one-layer image per key, unpacked from a real tarball.

    Each layer also has a short link (l/<name> -> ../<hex>/diff) for overlay mounts: a
    finished unpack leaves it in place; a link never names a missing layer (under the
    layer's lock, which writers hold, a listed link's layer is there and whole)."""

    kind = "layers"
    versioned = False

    def __init__(self, root: Path):
        super().__init__(root)
        self.store = LayerStore(root)
        self.blobs = root.parent / "layer-blobs"

    @staticmethod
    def tree(key: str) -> dict[str, tuple]:
        rnd = random.Random(key)
        return {
            "key": ("file", key.encode()),
            "data": ("dir",),
            "data/big.bin": ("file", rnd.randbytes(100_000)),
            "data/small.txt": ("file", f"small {key}\n".encode()),
            "data/link": ("symlink", "small.txt"),
            "empty": ("dir",),
        }

    def _blob(self, key: str) -> tuple[Path, str]:
        path = self.blobs / f"{key}.tar"
        if not path.exists():
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for name, entry in self.tree(key).items():
                    info = tarfile.TarInfo(name)
                    info.mtime = 1_700_000_000
                    if entry[0] == "dir":
                        info.type, info.mode = tarfile.DIRTYPE, 0o755
                        tar.addfile(info)
                    elif entry[0] == "symlink":
                        info.type, info.linkname = tarfile.SYMTYPE, entry[1]
                        tar.addfile(info)
                    else:
                        info.size, info.mode = len(entry[1]), 0o644
                        tar.addfile(info, io.BytesIO(entry[1]))
            self.blobs.mkdir(parents=True, exist_ok=True)
            path.write_bytes(buf.getvalue())
        return path, digestmod.of_bytes(path.read_bytes())

    def prepare(self, keys):
        for key in keys:
            self._blob(key)

    def _unpack(self, key: str) -> bool:
        path, diff_id = self._blob(key)
        created = self.store.unpack(diff_id, diff_id, path, "none")  # one layer: chain ID = diff ID
        link = self.store.links / link_name(diff_id)
        if not link.is_symlink() or link.resolve() != (self.store.path(diff_id)).resolve():
            raise Torn(f"layer {key}: unpacked, but its link {link} is missing or wrong")
        return created

    def put(self, key, version):
        self._unpack(key)

    def create(self, key):
        return self._unpack(key)

    def _read_tree(self, diff: Path) -> dict[str, tuple]:
        tree = {}
        for dirpath, dirnames, filenames in os.walk(diff, onerror=_raise):
            for name in dirnames + filenames:
                full = Path(dirpath) / name
                rel = str(full.relative_to(diff))
                if full.is_symlink():
                    tree[rel] = ("symlink", os.readlink(full))
                elif full.is_dir():
                    tree[rel] = ("dir",)
                else:
                    tree[rel] = ("file", full.read_bytes())
        return tree

    def _check_layer(self, chain_id: str, key: str | None) -> str | None:
        layer_dir = self.store.dir / digestmod.hex_of(chain_id)
        if not self.store.exists(chain_id):
            return None
        try:
            info = json.loads((layer_dir / "layer.json").read_bytes())
            tree = self._read_tree(layer_dir / "diff")
        except FileNotFoundError:
            if not layer_dir.exists():
                return None  # removed while we read it: absent, not torn
            raise Torn(f"layer {chain_id} is missing parts") from None
        except ValueError as exc:
            raise Torn(f"layer {chain_id}: layer.json does not parse: {exc}") from None
        key = key or tree.get("key", ("file", b"?"))[1].decode()
        if info.get("chain_id") != chain_id or info.get("diff_id") != chain_id:
            raise Torn(f"layer {chain_id}: layer.json describes another layer: {info}")
        if tree != self.tree(key):
            raise Torn(f"layer {chain_id} ({key}): its files differ from the tarball's: {sorted(tree)}")
        return key

    def get(self, key):
        return None if self._check_layer(self._blob(key)[1], key) is None else 0

    def delete(self, key):
        self.store.remove(self._blob(key)[1])

    def _check_links(self) -> None:
        try:
            names = os.listdir(self.store.links)
        except FileNotFoundError:
            return
        for name in names:
            try:
                target = os.readlink(self.store.links / name)
            except FileNotFoundError:
                continue  # removed since the listing
            except OSError as exc:
                raise Torn(f"l/{name} is not a symlink: {exc}") from None
            hex_id = target.removeprefix("../").removesuffix("/diff")
            if target != f"../{hex_id}/diff" or len(hex_id) != 64 or link_name(f"sha256:{hex_id}") != name:
                raise Torn(f"l/{name} -> {target!r} is not a layer's link")
            with locked(self.store.dir / f"{hex_id}.lock"):  # what writers hold between their steps
                if (self.store.links / name).is_symlink() and not self.store.exists(f"sha256:{hex_id}"):
                    raise Torn(f"l/{name} names layer {hex_id}, which is missing")

    def keys(self):
        self._check_links()
        return {k for k in (self._check_layer(c, None) for c in self.store.all()) if k}


def _raise(exc: OSError) -> None:
    raise exc


class ImageAdapter(Adapter):
    """pyctr/image/index.py: an image record per key, named localhost/<key>:latest."""

    kind = "images"

    def __init__(self, root: Path):
        super().__init__(root)
        self.index = ImageIndex(root)

    @staticmethod
    def record(key: str, version: int) -> ImageRecord:
        layer = "sha256:" + _hex(f"{key}/{version}")
        return ImageRecord(
            id=_hex(key),
            manifest_digest=layer,
            config_digest="sha256:" + _hex(key),
            manifest_media_type="application/vnd.oci.image.manifest.v1+json",
            layers=[{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": version}] * 8,
            diff_ids=[layer] * 8,
            chain_ids=[layer] * 8,
            names=[f"localhost/{key}:latest"],
            created=_pad(key, version),
            size=version,
        )

    def put(self, key, version):
        with self.index.edit() as images:
            images[_hex(key)] = self.record(key, version)

    def create(self, key):
        with self.index.edit() as images:
            if _hex(key) in images:
                return False
            images[_hex(key)] = self.record(key, 0)
            return True

    def delete(self, key):
        with self.index.edit() as images:
            images.pop(_hex(key), None)

    def _load(self) -> dict[str, ImageRecord]:
        try:
            return self.index.load()
        except StoreError as exc:  # a torn images.json
            raise Torn(f"images.json unreadable: {exc}") from exc

    @classmethod
    def _check(cls, rec: ImageRecord) -> str:
        if len(rec.names) != 1:
            raise Torn(f"image {rec.id}: names {rec.names}")
        key = rec.names[0].removeprefix("localhost/").removesuffix(":latest")
        if rec.id != _hex(key) or rec != cls.record(key, rec.size):
            raise Torn(f"image {rec.id} ({key}): fields of different versions mixed")
        return key

    def get(self, key):
        rec = self._load().get(_hex(key))
        return None if rec is None else (self._check(rec), rec.size)[1]

    def keys(self):
        found = [self._check(rec) for rec in self._load().values()]
        if len(found) != len(set(found)):
            raise Torn(f"an image name is on two records: {sorted(found)}")
        return set(found)


class ContainerAdapter(Adapter):
    """pyctr/container/store.py: a container record per key, the key being the container's name."""

    kind = "containers"

    def __init__(self, root: Path):
        super().__init__(root)
        self.store = ContainerStore(Config(root=root, runroot=root / "run", rootless=False))

    @staticmethod
    def fields(key: str, version: int) -> dict:
        return {"image_id": _hex("image"), "image_name": "localhost/image:latest", "args": ["sh", key],
                "spec_data": ContainerSpec.for_image("localhost/image:latest", ["sh", key]).to_json(),
                "labels": {"version": str(version), "pad": _pad(key, version)}}

    def owner(self, name: str) -> str:
        """The ID that containers/names/<name> holds ("" if none)."""
        try:
            return (self.store.names_dir / name).read_text().strip()
        except FileNotFoundError:
            return ""

    def put(self, key, version):
        try:
            self.store.create(self.fields(key, version), key)
        except NameInUse:
            record = self.store.resolve(key)
            record.labels = self.fields(key, version)["labels"]
            self.store.save(record)

    def create(self, key):
        try:
            self.store.create(self.fields(key, 0), key)
        except NameInUse:
            return False
        return True

    def delete(self, key):
        try:
            self.store.remove(self.store.resolve(key))
        except ContainerNotFound:
            pass

    @classmethod
    def _check(cls, record) -> int:
        try:
            version = int(record.labels["version"])
        except (KeyError, ValueError):
            raise Torn(f"container {record.name}: labels {record.labels!r:.80}") from None
        if record.labels != cls.fields(record.name, version)["labels"] or record.args != ["sh", record.name]:
            raise Torn(f"container {record.name}: fields of different versions mixed")
        return version

    def get(self, key):
        try:
            record = self.store.resolve(key)
        except ContainerNotFound:
            return None
        except StoreError as exc:  # a torn container.json
            raise Torn(f"container {key}: record unreadable: {exc}") from exc
        if record.name != key:
            raise Torn(f"name {key} leads to the container named {record.name}")
        return self._check(record)

    def keys(self):
        try:
            records = self.store.all()
        except StoreError as exc:
            raise Torn(f"container records unreadable: {exc}") from exc
        names = [r.name for r in records]
        if len(names) != len(set(names)):
            raise Torn(f"a container name is on two records: {sorted(names)}")
        for record in records:
            self._check(record)
            # (removal renames the record away before it releases the name: recheck it is still there)
            if self.owner(record.name) != record.id and self.store.load(record.id):
                raise Torn(f"container {record.id[:12]} is named {record.name}, but the name is not reserved for it")
        return set(names)


ADAPTERS = {a.kind: a for a in (ContentAdapter, LayerAdapter, ImageAdapter, ContainerAdapter)}


@pytest.fixture(params=list(ADAPTERS))
def make(request, tmp_path):
    """make(name) -> a fresh store of the parametrised kind under tmp_path/name."""
    return lambda name: ADAPTERS[request.param](tmp_path / name)


# -- concurrent writers ----------------------------------------------------------------------

WRITERS = 4
ROUNDS = 3


def test_concurrent_writers_same_and_different_keys(make):
    store = make("store")
    own = {i: [f"p{i}-{j}" for j in range(3)] for i in range(WRITERS)}
    store.prepare(["same", *sum(own.values(), [])])
    barrier = CTX.Barrier(WRITERS)

    def writer(i):
        barrier.wait(timeout=10)
        for r in range(ROUNDS):
            store.put("same", 100 * i + r)
            for key in own[i]:
                store.put(key, r)

    assert run_children([(writer, i) for i in range(WRITERS)]) == [0] * WRITERS
    assert store.keys() == {"same", *sum(own.values(), [])}
    for keys in own.values():
        assert [store.get(k) for k in keys] == [store.expect(ROUNDS - 1)] * len(keys)
    # The last write to "same" is some writer's last one, whole.
    assert store.get("same") in {store.expect(100 * i + ROUNDS - 1) for i in range(WRITERS)}


def test_racing_creators_exactly_one_wins(make):
    store = make("store")
    keys = [f"race{r}" for r in range(3)]
    store.prepare(keys)
    barrier = CTX.Barrier(WRITERS)

    def creator(key):
        barrier.wait(timeout=10)
        return store.create(key)

    for key in keys:
        codes = run_children([(creator, key)] * WRITERS)
        assert sorted(codes) == [EXIT_TRUE] + [EXIT_FALSE] * (WRITERS - 1), f"{key}: exit codes {codes}"
        assert store.get(key) == 0
    assert store.keys() == set(keys)


# -- a crash between steps -------------------------------------------------------------------

MAX_STEPS = 400


def _after_crash(store, key: str, step: int, allowed: set) -> None:
    """What must hold after a writer was killed after `step` steps, and what the next writer must do."""
    got = store.get(key)
    assert got in allowed, f"entry reads {got}, not one of {allowed}"
    assert store.keys() == ({key} if got is not None else set()), "listing"
    # The next writer succeeds, over whatever the victim left, and so does a write elsewhere.
    try:
        store.put(key, 3)
        store.put("other", 3)
    except Exception as exc:
        raise AssertionError(f"the next writer failed: {type(exc).__name__}: {exc}") from exc
    assert (store.get(key), store.get("other")) == (store.expect(3), store.expect(3))
    assert store.keys() == {key, "other"}
    store.delete(key)
    assert store.get(key) is None and store.keys() == {"other"}, "delete after the crash"


@pytest.mark.parametrize("op", ["put-new", "put-over", "delete"])
def test_crash_between_steps(make, op):
    """Kill the writer after each of its filesystem steps in turn, until it gets through."""
    key = "victim"
    probe = make("probe")
    if op == "put-over" and not probe.versioned:
        pytest.skip("immutable entries are never overwritten")
    before = None if op == "put-new" else probe.expect(1)
    after = None if op == "delete" else probe.expect(2)
    action = (lambda s: s.delete(key)) if op == "delete" else (lambda s: s.put(key, 2))
    failures = []
    for step in range(1, MAX_STEPS + 1):
        store = make(f"crash-{step}")
        store.prepare([key, "other"])
        if before is not None:
            store.put(key, 1)
        [code] = run_children([(action, store)], crash_at=step)
        if code == 0:
            break  # got through: every step before this one was a crash point
        assert code == -signal.SIGKILL, f"step {step}: the writer failed (exit {code}) instead of dying"
        try:
            _after_crash(store, key, step, {before, after})
        except Exception as exc:  # every step is checked: the report lists all that fail
            failures.append(f"killed after step {step}: {type(exc).__name__}: {exc}")
    else:
        pytest.fail(f"the writer did not finish within {MAX_STEPS} steps")
    assert not failures, "\n".join(failures)
    assert step > 1, "no crash point was exercised"
    assert store.get(key) == after


# -- a reader during a write -----------------------------------------------------------------

WRITE_SECONDS = 1.0


def test_reader_during_write(make):
    store = make("store")
    churn = [f"churn{i}" for i in range(3)]
    store.prepare(["stable", *churn])
    store.put("stable", 0)
    ready = CTX.Event()

    def writer():
        ready.set()
        deadline = time.monotonic() + WRITE_SECONDS
        v = 0
        while time.monotonic() < deadline:
            v += 1
            store.put("stable", v)  # replaces the entry (a no-op for an immutable store)
            store.put(churn[v % 3], v)
            store.delete(churn[(v + 1) % 3])

    proc = CTX.Process(target=_child_main, args=(writer, (), None))
    proc.start()
    try:
        assert ready.wait(10)
        reads, seen = 0, set()
        while proc.is_alive():
            stable = store.get("stable")
            assert stable is not None, "the stable entry vanished while being replaced"
            listed = store.keys()
            for key in listed:
                store.get(key)  # whole, or gone since the listing
            seen.add((stable, frozenset(listed)))
            reads += 1
    finally:
        proc.join(CHILD_TIMEOUT)
        if proc.is_alive():
            proc.kill()
            proc.join()
    assert proc.exitcode == 0
    assert reads >= 10 and len(seen) >= 3, f"the reader did not overlap the writer ({reads} reads, {len(seen)} states)"
    assert store.keys() <= {"stable", *churn} and store.get("stable") is not None


# -- container records: races particular to names and state ------------------------------------

def test_removal_racing_a_create_keeps_the_new_containers_name(tmp_path):
    store = ContainerAdapter(tmp_path / "store")
    store.put("web", 1)
    old = store.store.resolve("web")
    between = CTX.Event()  # the remover has read the name's owner and is about to unlink it

    def remover():
        real_unlink = os.unlink

        def unlink_late(path, *args, **kwargs):
            if path == store.store.names_dir / "web":
                between.set()
                # Hold the window (a scheduler could open it at any time) until the creator has
                # taken the name over, or for a second if it cannot.
                deadline = time.monotonic() + 1.0
                while store.owner("web") == old.id and time.monotonic() < deadline:
                    time.sleep(0.005)
            return real_unlink(path, *args, **kwargs)

        os.unlink = unlink_late
        store.store.remove(old)

    def creator():
        assert between.wait(10)
        return store.create("web")

    assert run_children([(remover,), (creator,)]) == [0, EXIT_TRUE]
    [new] = store.store.all()
    assert (new.name, new.id != old.id) == ("web", True)
    assert store.owner("web") == new.id, "the new container lost its name reservation"
    assert store.create("web") is False, "a second container got the name web"
    assert store.keys() == {"web"}


def test_state_updates_from_two_processes_all_land(tmp_path):
    store = ContainerAdapter(tmp_path / "store")
    store.put("web", 1)
    cid = store.store.resolve("web").id
    barrier = CTX.Barrier(2)

    def writer(tag):
        barrier.wait(timeout=10)
        for i in range(100):
            store.store.write_state(cid, **{f"{tag}{i}": i})

    assert run_children([(writer, "a"), (writer, "b")]) == [0, 0]
    state = store.store.read_state(cid)
    lost = [f"{t}{i}" for t in "ab" for i in range(100) if f"{t}{i}" not in state]
    assert not lost, f"{len(lost)} of 200 state updates lost, e.g. {lost[:5]}"
