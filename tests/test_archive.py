"""Tests of pyctr.snapshot.archive.unpack_layer on real files (run as root: owners, devices, overlay)."""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile

import pytest
import zstandard

from pyctr.snapshot import layerfs
from pyctr.snapshot.archive import unpack_layer
from pyctr.errors import DigestMismatch, InvalidArgument, UnsafeArchive, UnsupportedMediaType

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (owners, devices, trusted xattrs, mount)")

T0 = 1_600_000_000  # a fixed mtime


# -- building layers ---------------------------------------------------------------------------


def _info(name: str, kind: bytes, mode: int, uid: int, gid: int, mtime, pax: dict | None) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.uid, ti.gid = uid, gid
    ti.mtime = mtime
    if pax:
        ti.pax_headers = dict(pax)
    return ti


def reg(name, data=b"", mode=0o644, uid=0, gid=0, mtime=T0, pax=None):
    ti = _info(name, tarfile.REGTYPE, mode, uid, gid, mtime, pax)
    ti.size = len(data)
    return ti, data


def dir_(name, mode=0o755, uid=0, gid=0, mtime=T0, pax=None):
    return _info(name, tarfile.DIRTYPE, mode, uid, gid, mtime, pax), None


def sym(name, target, uid=0, gid=0, mtime=T0, pax=None):
    ti = _info(name, tarfile.SYMTYPE, 0o777, uid, gid, mtime, pax)
    ti.linkname = target
    return ti, None


def hard(name, target):
    ti = _info(name, tarfile.LNKTYPE, 0o644, 0, 0, T0, None)
    ti.linkname = target
    return ti, None


def fifo(name, mode=0o640, uid=0, gid=0):
    return _info(name, tarfile.FIFOTYPE, mode, uid, gid, T0, None), None


def dev(name, kind, major, minor, mode=0o666):
    ti = _info(name, kind, mode, 0, 0, T0, None)
    ti.devmajor, ti.devminor = major, minor
    return ti, None


def build(entries, fmt=tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for ti, data in entries:
            tar.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def compress(raw: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(raw, compresslevel=1)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(raw)
    return raw


def sha256(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


class Layers:
    """Writes blobs and unpacks them into fresh directories under tmp_path."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.count = 0
        self.notes: list[str] = []

    def blob(self, data: bytes) -> str:
        self.count += 1
        path = self.tmp / f"blob{self.count}"
        path.write_bytes(data)
        return str(path)

    def unpack_raw(self, data: bytes, compression="none", dest=None, **kw) -> tuple[str, str]:
        blob = self.blob(data)
        if dest is None:
            dest = self.tmp / f"layer{self.count}"
            dest.mkdir()
        diff_id = unpack_layer(blob, compression, str(dest), on_note=self.notes.append, **kw)
        return str(dest), diff_id

    def unpack(self, entries, compression="none", fmt=tarfile.PAX_FORMAT, **kw) -> str:
        raw = build(entries, fmt)
        dest, diff_id = self.unpack_raw(compress(raw, compression), compression, **kw)
        assert diff_id == sha256(raw)
        return dest


@pytest.fixture
def layers(tmp_path):
    return Layers(tmp_path)


@pytest.fixture(params=["openat2", "walk"])
def resolver(request, monkeypatch):
    """Runs a test with openat2 and again with the fallback walk used where openat2 is missing."""
    monkeypatch.setattr(layerfs, "_openat2_state", None if request.param == "openat2" else False)
    yield request.param
    if request.param == "openat2":
        assert layerfs._openat2_state is True


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def xattr(path, name):
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError:
        return None


# -- the ordinary content of a layer ---------------------------------------------------------------


@needs_root
@pytest.mark.parametrize("compression", ["none", "gzip", "zstd", "auto-gzip", "auto-zstd", "auto-none"])
def test_unpack_all_kinds(layers, compression, resolver):
    big = os.urandom(3 << 20) + b"tail"
    entries = [
        dir_("./", mode=0o755, mtime=T0 + 1),
        dir_("etc/", mode=0o755, mtime=T0 + 2),
        reg("etc/hostname", b"pyctr\n", mode=0o644, uid=1234, gid=5678, mtime=T0 + 3),
        reg("usr/bin/su", b"\x7fELF", mode=0o4755, uid=0, gid=0),  # parent usr/bin is missing
        dir_("shared/", mode=0o2775, gid=100),
        dir_("tmp/", mode=0o1777),
        reg("big.bin", big, mode=0o600),
        hard("etc/hostname.link", "etc/hostname"),
        sym("abs", "/etc/passwd", mtime=T0 + 4),
        sym("rel", "../etc/hostname", uid=1234),
        sym("dangling", "does/not/exist"),
        fifo("run/fifo", mode=0o620, uid=1234),
        dev("dev/null", tarfile.CHRTYPE, 1, 3),
        dev("dev/loop0", tarfile.BLKTYPE, 7, 0, mode=0o660),
        reg("xattrs", b"x", pax={"SCHILY.xattr.user.comment": "hello", "SCHILY.xattr.trusted.pyctr": "t"}),
        reg("frac", b"", pax={"mtime": "1700000000.123456789"}),
        reg("etc/.wh.removed"),
        reg("opaque/.wh..wh..opq"),
        reg("opaque/new", b"n"),
        reg(".wh..wh.plnk/1234.5678", b"aufs"),  # aufs bookkeeping: skipped
        reg(".wh..wh.aufs"),
    ]
    kind = compression.removeprefix("auto-")
    raw = build(entries)
    fds = open_fds()
    dest, diff_id = layers.unpack_raw(compress(raw, kind), "auto" if compression.startswith("auto") else kind)
    assert open_fds() == fds
    assert diff_id == sha256(raw)

    def st(rel):
        return os.lstat(os.path.join(dest, rel))

    def read(rel):
        with open(os.path.join(dest, rel), "rb") as f:
            return f.read()

    assert read("etc/hostname") == b"pyctr\n"
    s = st("etc/hostname")
    assert (stat.S_IMODE(s.st_mode), s.st_uid, s.st_gid, s.st_mtime_ns) == (0o644, 1234, 5678, (T0 + 3) * 10**9)
    assert stat.S_IMODE(st("usr/bin/su").st_mode) == 0o4755
    assert stat.S_IMODE(st("usr").st_mode) == 0o755 and stat.S_IMODE(st("usr/bin").st_mode) == 0o755
    assert st("usr/bin").st_uid == 0
    assert stat.S_IMODE(st("shared").st_mode) == 0o2775 and st("shared").st_gid == 100
    assert stat.S_IMODE(st("tmp").st_mode) == 0o1777
    assert read("big.bin") == big and stat.S_IMODE(st("big.bin").st_mode) == 0o600
    assert st("etc/hostname.link").st_ino == st("etc/hostname").st_ino
    assert st("etc/hostname").st_nlink == 2
    assert os.readlink(os.path.join(dest, "abs")) == "/etc/passwd"
    assert os.readlink(os.path.join(dest, "rel")) == "../etc/hostname"
    assert os.readlink(os.path.join(dest, "dangling")) == "does/not/exist"
    assert st("abs").st_mtime_ns == (T0 + 4) * 10**9
    assert st("rel").st_uid == 1234
    s = st("run/fifo")
    assert stat.S_ISFIFO(s.st_mode) and stat.S_IMODE(s.st_mode) == 0o620 and s.st_uid == 1234
    s = st("dev/null")
    assert stat.S_ISCHR(s.st_mode) and (os.major(s.st_rdev), os.minor(s.st_rdev)) == (1, 3)
    assert stat.S_IMODE(s.st_mode) == 0o666
    s = st("dev/loop0")
    assert stat.S_ISBLK(s.st_mode) and (os.major(s.st_rdev), os.minor(s.st_rdev)) == (7, 0)
    assert xattr(os.path.join(dest, "xattrs"), "user.comment") == b"hello"
    assert xattr(os.path.join(dest, "xattrs"), "trusted.pyctr") == b"t"
    assert st("frac").st_mtime_ns == 1700000000_123456789
    s = st("etc/removed")
    assert stat.S_ISCHR(s.st_mode) and s.st_rdev == 0 and os.major(s.st_rdev) == 0 and os.minor(s.st_rdev) == 0
    assert not os.path.lexists(os.path.join(dest, "etc/.wh.removed"))
    assert xattr(os.path.join(dest, "opaque"), "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(os.path.join(dest, "opaque"))) == ["new"]
    assert not os.path.lexists(os.path.join(dest, ".wh..wh.plnk"))
    assert not os.path.lexists(os.path.join(dest, ".wh..wh.aufs"))
    # directory times survive the creation of their children
    assert st("etc").st_mtime_ns == (T0 + 2) * 10**9
    assert os.stat(dest).st_mtime_ns == (T0 + 1) * 10**9
    assert st("shared").st_mtime_ns == T0 * 10**9


@needs_root
def test_gnu_format_long_names(layers):
    long_dir = "d" * 90 + "/" + "e" * 90
    long_name = long_dir + "/" + "f" * 150
    entries = [
        dir_(long_dir + "/"),
        reg(long_name, b"long", uid=70000, gid=70001),
        sym("s" * 120, long_name),
        hard("h" * 130, long_name),
    ]
    dest = layers.unpack(entries, "gzip", fmt=tarfile.GNU_FORMAT)
    path = os.path.join(dest, long_name)
    with open(path, "rb") as f:
        assert f.read() == b"long"
    assert os.lstat(path).st_uid == 70000 and os.lstat(path).st_gid == 70001
    assert os.readlink(os.path.join(dest, "s" * 120)) == long_name
    assert os.lstat(os.path.join(dest, "h" * 130)).st_ino == os.lstat(path).st_ino


@needs_root
def test_ustar_format(layers):
    dest = layers.unpack([dir_("a/"), reg("a/b", b"1", mode=0o755), sym("a/c", "b")], fmt=tarfile.USTAR_FORMAT)
    assert open(os.path.join(dest, "a/b"), "rb").read() == b"1"
    assert os.readlink(os.path.join(dest, "a/c")) == "b"


@needs_root
def test_replacements_follow_tar_order(layers, resolver):
    entries = [
        reg("file-then-dir", b"1"),
        dir_("file-then-dir/", mode=0o700),
        dir_("dir-then-file/"),
        reg("dir-then-file/child", b"c"),
        dir_("dir-then-file/sub/"),
        reg("dir-then-file", b"2"),
        reg("file-then-symlink", b"3"),
        sym("file-then-symlink", "target"),
        reg("file-twice", b"old"),
        reg("file-twice", b"new", mode=0o600),
        dir_("dir-twice/", mode=0o755, uid=1),
        reg("dir-twice/keep", b"k"),
        dir_("dir-twice/", mode=0o750, uid=2, mtime=T0 + 9),
    ]
    dest = layers.unpack(entries)
    p = lambda rel: os.path.join(dest, rel)  # noqa: E731
    assert os.path.isdir(p("file-then-dir")) and stat.S_IMODE(os.lstat(p("file-then-dir")).st_mode) == 0o700
    assert open(p("dir-then-file"), "rb").read() == b"2"
    assert os.readlink(p("file-then-symlink")) == "target"
    assert open(p("file-twice"), "rb").read() == b"new"
    s = os.lstat(p("dir-twice"))
    assert (stat.S_IMODE(s.st_mode), s.st_uid, s.st_mtime_ns) == (0o750, 2, (T0 + 9) * 10**9)
    assert os.listdir(p("dir-twice")) == ["keep"]


@needs_root
def test_trailing_data_is_part_of_the_diff_id(layers):
    raw = build([reg("a", b"a")]) + b"trailing junk after the end of the archive"
    dest, diff_id = layers.unpack_raw(compress(raw, "gzip"), "gzip")
    assert diff_id == sha256(raw)


@needs_root
def test_empty_layer(layers):
    raw = build([])
    dest, diff_id = layers.unpack_raw(raw, "auto")
    assert diff_id == sha256(raw) and os.listdir(dest) == []


@needs_root
def test_multi_member_gzip_and_multi_frame_zstd(layers):
    raw = build([reg("a", b"a" * 5000), reg("b", os.urandom(5000))])
    half = len(raw) // 2
    _, diff_id = layers.unpack_raw(gzip.compress(raw[:half]) + gzip.compress(raw[half:]), "gzip")
    assert diff_id == sha256(raw)
    zc = zstandard.ZstdCompressor(write_checksum=True)
    _, diff_id = layers.unpack_raw(zc.compress(raw[:half]) + zc.compress(raw[half:]), "auto")
    assert diff_id == sha256(raw)


def test_expected_diff_id(layers, tmp_path):
    raw = build([reg("a", b"a")])
    dest, diff_id = layers.unpack_raw(compress(raw, "gzip"), "gzip", expected_diff_id=sha256(raw))
    assert diff_id == sha256(raw)
    with pytest.raises(DigestMismatch):
        layers.unpack_raw(compress(raw, "gzip"), "gzip", expected_diff_id="sha256:" + "0" * 64)
    with pytest.raises(DigestMismatch):  # the compressed digest is not the diff_id
        layers.unpack_raw(compress(raw, "gzip"), "gzip", expected_diff_id=sha256(compress(raw, "gzip")))
    with pytest.raises(InvalidArgument):
        layers.unpack_raw(raw, "none", expected_diff_id="md5:abc")


def test_unknown_compressions(layers):
    import bz2

    with pytest.raises(UnsupportedMediaType):
        layers.unpack_raw(bz2.compress(build([reg("a")])), "auto")
    with pytest.raises(UnsupportedMediaType):
        layers.unpack_raw(build([reg("a")]), "lz4")


@needs_root
def test_rootless_mode(layers):
    entries = [
        dir_("dev/"),
        dev("dev/null", tarfile.CHRTYPE, 1, 3),
        dev("dev/zero", tarfile.CHRTYPE, 1, 5),
        dev("dev/sda", tarfile.BLKTYPE, 8, 0),
        reg("d/.wh..wh..opq"),
        reg("d/.wh.gone"),
        reg("f", b"f", uid=1234),
    ]
    dest = layers.unpack(entries, rootless=True)
    assert os.listdir(os.path.join(dest, "dev")) == []
    assert xattr(os.path.join(dest, "d"), "user.overlay.opaque") == b"y"
    assert xattr(os.path.join(dest, "d"), "trusted.overlay.opaque") is None
    assert os.lstat(os.path.join(dest, "d/gone")).st_rdev == 0
    device_notes = [n for n in layers.notes if "dev/" in n]
    assert len(device_notes) == 2  # the first one, then a count of the others
    assert "'dev/null'" in device_notes[0] and "2 more" in device_notes[1]


@needs_root
def test_rootless_fallbacks(layers, monkeypatch):
    """Where the kernel refuses mknod, the opaque xattr or chown: `.wh.` files and notes."""
    real_setxattr = os.setxattr

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    def setxattr(path, name, *args, **kwargs):
        if name == "user.overlay.opaque":
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")
        return real_setxattr(path, name, *args, **kwargs)

    monkeypatch.setattr(os, "mknod", refuse)
    monkeypatch.setattr(os, "chown", refuse)
    monkeypatch.setattr(os, "fchown", refuse)
    monkeypatch.setattr(os, "setxattr", setxattr)
    entries = [
        reg("d/gone", b"replaced by the whiteout"),
        reg("d/.wh.gone"),
        reg("o/.wh..wh..opq"),
        reg("f", b"f", uid=1234),
    ]
    dest = layers.unpack(entries, rootless=True)
    monkeypatch.undo()
    assert sorted(os.listdir(os.path.join(dest, "d"))) == [".wh.gone"]
    assert stat.S_ISREG(os.lstat(os.path.join(dest, "d/.wh.gone")).st_mode)
    assert os.listdir(os.path.join(dest, "o")) == [".wh..wh..opq"]
    assert os.lstat(os.path.join(dest, "f")).st_uid == 0
    joined = "\n".join(layers.notes)
    assert "whiteout" in joined and "user.overlay.opaque" in joined and "owner" in joined


@needs_root
def test_rootless_keeps_directories_writable_until_the_end(layers):
    dest = layers.unpack(
        [dir_("./", mode=0o555), dir_("ro/", mode=0o555, mtime=T0 + 5), reg("ro/f", b"f"), dir_("none/", mode=0)],
        rootless=True,
    )
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o555
    s = os.lstat(os.path.join(dest, "ro"))
    assert (stat.S_IMODE(s.st_mode), s.st_mtime_ns) == (0o555, (T0 + 5) * 10**9)
    assert stat.S_IMODE(os.lstat(os.path.join(dest, "none")).st_mode) == 0
    assert os.listdir(os.path.join(dest, "ro")) == ["f"]


@pytest.mark.skipif(shutil.which("tar") is None, reason="needs GNU tar")
@pytest.mark.parametrize("fmt", ["gnu", "posix"])
def test_sparse_files_from_gnu_tar(layers, tmp_path, fmt):
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "sparse", "wb") as f:
        f.seek(3 << 20)
        f.write(b"middle")
        f.seek(7 << 20)
        f.write(b"end")
    expected = (src / "sparse").read_bytes()
    blob = tmp_path / "sparse.tar"
    subprocess.run(["tar", "--sparse", f"--format={fmt}", "-C", str(src), "-cf", str(blob), "sparse"], check=True)
    raw = blob.read_bytes()
    dest, diff_id = layers.unpack_raw(raw, "auto")
    assert diff_id == sha256(raw)
    assert open(os.path.join(dest, "sparse"), "rb").read() == expected


def test_zstd_skippable_frame_first(layers):
    raw = build([reg("a", b"a")])
    skippable = (0x184D2A50).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"12345"
    dest, diff_id = layers.unpack_raw(skippable + compress(raw, "zstd"), "auto")
    assert diff_id == sha256(raw)


@needs_root
def test_refused_xattr_is_a_note(layers):
    # user.* xattrs are not allowed on symlinks: skipped with a note, not fatal.
    dest = layers.unpack([sym("s", "t", pax={"SCHILY.xattr.user.x": "1", "SCHILY.xattr.trusted.y": "2"})])
    assert xattr(os.path.join(dest, "s"), "trusted.y") == b"2"
    assert xattr(os.path.join(dest, "s"), "user.x") is None
    assert any("user.x" in n for n in layers.notes)


@needs_root
def test_overlay_xattrs_from_the_tar_are_ignored(layers):
    pax = {"SCHILY.xattr.trusted.overlay.redirect": "/etc", "SCHILY.xattr.trusted.overlay.opaque": "y"}
    dest = layers.unpack([dir_("d/", pax=pax)])
    assert xattr(os.path.join(dest, "d"), "trusted.overlay.redirect") is None
    assert xattr(os.path.join(dest, "d"), "trusted.overlay.opaque") is None


# -- hostile layers ----------------------------------------------------------------------------------


def snapshot(root) -> dict:
    """Everything observable about a tree (not following symlinks)."""
    result = {}
    for directory, dirs, files in os.walk(root):
        for name in [".", *dirs, *files]:
            path = os.path.normpath(os.path.join(directory, name))
            s = os.lstat(path)
            content = None
            if stat.S_ISREG(s.st_mode):
                with open(path, "rb") as f:
                    content = f.read()
            elif stat.S_ISLNK(s.st_mode):
                content = os.readlink(path)
            names = os.listxattr(path, follow_symlinks=False)
            attrs = {n: os.getxattr(path, n, follow_symlinks=False) for n in names}
            result[path] = (s.st_mode, s.st_uid, s.st_gid, s.st_nlink, s.st_size, s.st_mtime_ns, content, attrs)
    return result


@pytest.fixture
def outside(tmp_path):
    """A sibling of every layer directory (tmp_path/outside) holding a sentinel file."""
    path = tmp_path / "outside"
    path.mkdir(mode=0o755)
    (path / "sentinel").write_bytes(b"sentinel")
    (path / "sentinel").chmod(0o644)
    (path / "sub").mkdir(mode=0o755)
    before = snapshot(path)
    yield path
    assert snapshot(path) == before, "something outside the layer directory was changed"
    assert (path / "sentinel").stat().st_nlink == 1


def lexists(dest, rel):
    return os.path.lexists(os.path.join(dest, rel))


@needs_root
def test_dotdot_and_absolute_names_are_clamped(layers, outside, resolver):
    dest = layers.unpack(
        [
            reg("../outside/x", b"x"),
            reg("../../../../../../outside/y", b"y"),
            reg("/abs/x", b"abs"),
            reg("a/../../outside/z", b"z"),
            reg("./b/./c/../d", b"d"),
            dir_("../", mode=0o700),  # names the root
        ]
    )
    assert open(os.path.join(dest, "outside/x"), "rb").read() == b"x"
    assert open(os.path.join(dest, "outside/y"), "rb").read() == b"y"
    assert open(os.path.join(dest, "abs/x"), "rb").read() == b"abs"
    assert open(os.path.join(dest, "outside/z"), "rb").read() == b"z"
    assert open(os.path.join(dest, "b/d"), "rb").read() == b"d"
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o700


@needs_root
def test_write_through_relative_symlink(layers, outside, resolver):
    dest = layers.unpack([sym("link", "../outside"), reg("link/pwned", b"p"), reg("link/sentinel", b"overwritten")])
    assert os.readlink(os.path.join(dest, "link")) == "../outside"
    # clamped: ../outside seen from the layer root is <dest>/outside
    assert open(os.path.join(dest, "outside/pwned"), "rb").read() == b"p"
    assert open(os.path.join(dest, "outside/sentinel"), "rb").read() == b"overwritten"


@needs_root
def test_write_through_absolute_symlink(layers, outside, resolver):
    absolute = str(outside)
    dest = layers.unpack([sym("evil", absolute), reg("evil/pwned", b"p"), reg("evil/sentinel", b"o")])
    assert os.readlink(os.path.join(dest, "evil")) == absolute
    assert open(os.path.join(dest, absolute.lstrip("/"), "pwned"), "rb").read() == b"p"


@needs_root
def test_write_through_symlink_to_parents(layers, outside, resolver):
    rel_outside = str(outside).lstrip("/")
    dest = layers.unpack(
        [
            sym("up", "../../../../../../../.."),
            reg(f"up/{rel_outside}/pwned", b"p"),
            sym("root", "/"),
            reg(f"root/{rel_outside}/pwned2", b"p"),
            dir_("d/"),
            sym("d/chain", "../up/.."),
            reg(f"d/chain/{rel_outside}/sentinel", b"o"),
        ]
    )
    assert open(os.path.join(dest, rel_outside, "pwned"), "rb").read() == b"p"
    assert open(os.path.join(dest, rel_outside, "pwned2"), "rb").read() == b"p"
    assert open(os.path.join(dest, rel_outside, "sentinel"), "rb").read() == b"o"


@needs_root
def test_existing_symlink_directory_inside_is_followed(layers, resolver):
    dest = layers.unpack([dir_("real/"), sym("alias", "/real"), reg("alias/f", b"f")])
    assert open(os.path.join(dest, "real/f"), "rb").read() == b"f"
    assert os.path.islink(os.path.join(dest, "alias"))


@needs_root
@pytest.mark.parametrize(
    "entries",
    [
        [hard("h", "../outside/sentinel")],
        [hard("h", "OUTSIDE/sentinel")],  # absolute path of the real sentinel
        [sym("link", "../outside"), hard("h", "link/sentinel")],
        [sym("link", "OUTSIDE"), hard("h", "link/sentinel")],
        [sym("link", "OUTSIDE"), hard("link/h", "OUTSIDE/sentinel")],
    ],
    ids=["dotdot", "absolute", "via-relative-symlink", "via-absolute-symlink", "both-sides"],
)
def test_hardlink_to_outside_fails(layers, outside, resolver, entries):
    fixed = []
    for ti, data in entries:
        ti.linkname = ti.linkname.replace("OUTSIDE", str(outside))
        fixed.append((ti, data))
    fds = open_fds()
    with pytest.raises(UnsafeArchive, match="no such entry"):
        layers.unpack(fixed)
    assert open_fds() == fds


@needs_root
def test_hardlink_clamped_to_an_entry_inside(layers, outside, resolver):
    dest = layers.unpack(
        [reg("outside/sentinel", b"inner"), hard("h", "../outside/sentinel"), hard("h2", "/../../../outside/sentinel")]
    )
    inner = os.lstat(os.path.join(dest, "outside/sentinel"))
    assert os.lstat(os.path.join(dest, "h")).st_ino == inner.st_ino
    assert os.lstat(os.path.join(dest, "h2")).st_ino == inner.st_ino
    assert inner.st_nlink == 3


@needs_root
def test_hardlink_to_symlink_links_the_symlink(layers, outside, resolver):
    dest = layers.unpack([sym("s", str(outside) + "/sentinel"), hard("h", "s")])
    assert os.path.islink(os.path.join(dest, "h"))
    assert os.lstat(os.path.join(dest, "h")).st_ino == os.lstat(os.path.join(dest, "s")).st_ino


@needs_root
def test_hostile_whiteouts(layers, outside, resolver):
    dest = layers.unpack(
        [
            reg("../outside/.wh.sentinel"),
            sym("link", "../outside"),
            reg("link/.wh.sub"),
            sym("abs", str(outside)),
            reg("abs/.wh.sentinel"),
            reg("abs/.wh..wh..opq"),
            reg("/outside/subdir/.wh..wh..opq"),
        ]
    )
    assert os.lstat(os.path.join(dest, "outside/sentinel")).st_rdev == 0
    assert xattr(os.path.join(dest, "outside/subdir"), "trusted.overlay.opaque") == b"y"
    assert xattr(os.path.join(dest, str(outside).lstrip("/")), "trusted.overlay.opaque") == b"y"
    assert stat.S_ISCHR(os.lstat(os.path.join(dest, "outside/sub")).st_mode)
    assert os.path.islink(os.path.join(dest, "link"))


@pytest.mark.parametrize("name", ["d/.wh.", "d/.wh..", "d/.wh..."])  # whiting out "", "." or ".."
def test_invalid_whiteout_names(layers, name):
    with pytest.raises(UnsafeArchive, match="invalid whiteout"):
        layers.unpack([reg(name)])


@needs_root
def test_metadata_never_goes_through_a_symlink(layers, outside, resolver):
    dest = layers.unpack(
        [
            sym("dirlink", "../outside"),
            dir_("dirlink/", mode=0o777, uid=1234, gid=1234, pax={"SCHILY.xattr.user.pwned": "1"}),
            sym("filelink", str(outside) + "/sentinel"),
            reg("filelink", b"replaced", mode=0o4777, uid=1234),
            sym("fifolink", "../outside/sentinel"),
            fifo("fifolink", mode=0o777),
            sym("sub", "../outside/sub"),
            sym("sub", "../outside/sub", uid=1234, pax={"SCHILY.xattr.trusted.pwned": "1"}),
        ]
    )
    s = os.lstat(os.path.join(dest, "dirlink"))
    assert stat.S_ISDIR(s.st_mode) and stat.S_IMODE(s.st_mode) == 0o777 and s.st_uid == 1234
    assert xattr(os.path.join(dest, "dirlink"), "user.pwned") == b"1"
    assert open(os.path.join(dest, "filelink"), "rb").read() == b"replaced"
    assert stat.S_ISFIFO(os.lstat(os.path.join(dest, "fifolink")).st_mode)
    assert os.lstat(os.path.join(dest, "sub")).st_uid == 1234
    assert xattr(os.path.join(dest, "sub"), "trusted.pwned") == b"1"


@needs_root
def test_symlink_loops_and_files_as_parents(layers, resolver):
    with pytest.raises(UnsafeArchive):
        layers.unpack([sym("a", "b"), sym("b", "a"), reg("a/x", b"x")])
    with pytest.raises(UnsafeArchive):
        layers.unpack([reg("f", b"f"), reg("f/x", b"x")])
    with pytest.raises(UnsafeArchive):
        layers.unpack([reg("f", b"f"), sym("l", "f"), reg("l/x", b"x")])


def test_absurd_names(layers):
    with pytest.raises(UnsafeArchive, match="NUL"):
        layers.unpack([reg("x" * 120 + "\x00evil", b"x")])
    with pytest.raises(UnsafeArchive, match="too long"):
        layers.unpack([reg("a" * 300, b"x")])
    with pytest.raises(UnsafeArchive, match="too long"):
        layers.unpack([reg("/".join(["b" * 200] * 25), b"x")])
    with pytest.raises(UnsafeArchive, match="NUL"):
        layers.unpack([sym("s", "a\x00b" + "c" * 120)])


# -- malformed layers --------------------------------------------------------------------------------


@pytest.fixture
def sample():
    return build([dir_("d/"), reg("d/a", os.urandom(200_000)), reg("d/b", b"b" * 3000), sym("d/c", "a")])


@pytest.mark.parametrize("compression", ["gzip", "zstd", "auto"])
@pytest.mark.parametrize("cut", [0.99, 0.5, 0.1])
def test_truncated_compressed_stream(layers, sample, compression, cut):
    kind = "gzip" if compression == "auto" else compression
    data = compress(sample, kind)
    fds = open_fds()
    with pytest.raises(UnsafeArchive):
        layers.unpack_raw(data[: int(len(data) * cut)], compression)
    assert open_fds() == fds


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_corrupt_compressed_stream(layers, sample, compression):
    # (zstd stores random data as raw blocks: only its optional checksum can tell)
    if compression == "zstd":
        data = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(sample))
    else:
        data = bytearray(compress(sample, compression))
    middle = len(data) // 2
    data[middle : middle + 64] = os.urandom(64)
    with pytest.raises(UnsafeArchive):
        layers.unpack_raw(bytes(data), compression)


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none", "auto"])
def test_garbage(layers, compression):
    with pytest.raises(UnsafeArchive):
        layers.unpack_raw(os.urandom(10_000), compression)
    with pytest.raises(UnsafeArchive):
        layers.unpack_raw(b"", compression)


def test_gzip_with_trailing_garbage(layers, sample):
    with pytest.raises(UnsafeArchive):
        layers.unpack_raw(gzip.compress(sample) + b"garbage!", "gzip")


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_truncated_tar(layers, sample, compression):
    # inside a file's data, inside a header, and at an entry boundary (no end-of-archive blocks)
    for size in (100_000, 512 + 100, 512 * 3 + 7):
        with pytest.raises(UnsafeArchive, match="truncated"):
            layers.unpack_raw(compress(sample[:size], compression), compression)
    with tarfile.open(fileobj=io.BytesIO(sample)) as tar:
        last = tar.getmembers()[-1]
    end_of_entries = last.offset_data + (last.size + 511) // 512 * 512
    with pytest.raises(UnsafeArchive, match="end-of-archive"):
        layers.unpack_raw(compress(sample[:end_of_entries], compression), compression)


def test_corrupt_tar_header_after_the_first(layers, sample):
    data = bytearray(sample)
    second = sample.index(b"ustar", 600) - 257  # the header of d/a's PAX record or d/a itself
    data[second + 148 : second + 156] = b"9999999\x00"  # a bad checksum
    with pytest.raises(UnsafeArchive):
        layers.unpack_raw(bytes(data), "none")


def test_unsupported_member_type(layers):
    ti, _ = reg("volume")
    ti.type = b"V"
    with pytest.raises(UnsafeArchive, match="unsupported tar type"):
        layers.unpack([(ti, None)])


def test_errors_leak_no_fds(layers):
    fds = open_fds()
    for entries in ([hard("h", "missing")], [reg("f"), reg("f/x")], [sym("a", "a"), reg("a/x")]):
        with pytest.raises(UnsafeArchive):
            layers.unpack(entries)
    assert open_fds() == fds


# -- the result as overlayfs sees it ---------------------------------------------------------------


@needs_root
def test_overlay_merged_view(layers, tmp_path):
    bottom = layers.unpack(
        [
            reg("a", b"a"),
            reg("keep", b"keep"),
            dir_("d/"),
            reg("d/x", b"x"),
            reg("d/y", b"y"),
            dir_("e/"),
            reg("e/old", b"old"),
        ],
        "gzip",
    )
    top = layers.unpack(
        [
            reg(".wh.a"),
            reg("d/.wh..wh..opq"),
            reg("d/new", b"new"),
            reg("e/.wh.old"),
            reg("e/added", b"added"),
            reg("top", b"top"),
        ],
        "zstd",
    )
    mnt = tmp_path / "merged"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"ro,lowerdir={top}:{bottom}", str(mnt)], check=True)
    try:
        assert sorted(os.listdir(mnt)) == ["d", "e", "keep", "top"]
        assert sorted(os.listdir(mnt / "d")) == ["new"]
        assert sorted(os.listdir(mnt / "e")) == ["added"]
        assert (mnt / "keep").read_bytes() == b"keep"
        assert (mnt / "d" / "new").read_bytes() == b"new"
        assert not (mnt / "a").exists()
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
