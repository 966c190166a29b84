"""safe_key and digest checks: nasty names are refused, and refusals write nothing anywhere."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from forgeml.artifacts import LocalArtifactStore, open_artifact_store, safe_key
from forgeml.artifacts.keys import check_sha256
from forgeml.errors import ArtifactError, ConfigError, UnsafeKey

UNSAFE_KEYS = [
    "",
    "/",
    ".",
    "./",
    "./.",
    "//",
    "/etc/passwd",
    "//server/share",
    "\\\\server\\share",
    "C:\\x",
    "C:/x",
    "c:x",
    "..",
    "../x",
    "../../etc/passwd",
    "a/../../b",
    "a/..",
    "a/../b",
    "a/b/../../..",
    "..\\x",
    "a\\b",
    "a\x00b",
    "a\nb",
    "a\rb",
    "\tname",
    "a\x1bb",
    "a\x7fb",
    "a\u2028b",
    "evil\u202etxt.exe",
    "a\ud800b",
    "%2e%2e%2f",
    "%2e%2e/x",
    "..%2fx",
    "%252e%252e%252f",
    "a%00b",
    "%2F",
    "file:///etc/passwd",
    "file://localhost/etc/passwd",
    "s3://other-bucket/x",
    "gs://bucket/x",
    "http://example.com/x",
    "memory://other/x",
    "simplecache::s3://bucket/x",
    "a::b",
    "~",
    "~/x",
    "~root/.ssh/id_rsa",
    "a/~/b",
    "*",
    "logs/*",
    "a?b",
    "[ab]",
    "...",
    "a/.../b",
    ".. ",
    "a. ",
    "a.",
    "trailing ",
    "CON",
    "logs/nul.txt",
    "com1",
    "LPT9.log",
    "\uff0e\uff0e/x",  # fullwidth dots look like '..' after NFKC
    "\uff0e\uff0e",
    "a\uff3cb",  # fullwidth backslash
    "x" * 256,
    "/".join(["abcdefgh"] * 120),
]

SAFE_KEYS = {
    "a": "a",
    "logs/0001.jsonl": "logs/0001.jsonl",
    "./a": "a",
    "a/./b": "a/b",
    "a//b/": "a/b",
    ".hidden": ".hidden",
    "a/.config/b": "a/.config/b",
    "a..b": "a..b",
    "..a": "..a",
    "file~": "file~",
    "2024-01-01T00-00-00.json": "2024-01-01T00-00-00.json",
    "with space/inside": "with space/inside",
    "caf\u0065\u0301": "caf\u00e9",  # NFD in, NFC out
    "\u6a21\u578b/\u6743\u91cd.bin": "\u6a21\u578b/\u6743\u91cd.bin",
    "emoji-\U0001f680.txt": "emoji-\U0001f680.txt",
    "x" * 255: "x" * 255,
    "console/CONFIG": "console/CONFIG",
}


@pytest.mark.parametrize("key", UNSAFE_KEYS)
def test_safe_key_refuses(key: str) -> None:
    with pytest.raises(UnsafeKey) as info:
        safe_key(key)
    error = info.value
    assert error.message.startswith(("unsafe artifact key", "artifact key is empty"))
    assert error.fix
    # messages escape control characters so they cannot forge log lines
    assert "\n" not in error.message
    assert "\x00" not in error.message


@pytest.mark.parametrize(("key", "expected"), SAFE_KEYS.items())
def test_safe_key_normalises(key: str, expected: str) -> None:
    assert safe_key(key) == expected
    assert safe_key(expected) == expected


@pytest.mark.parametrize("value", [None, 1, b"a", Path("a")])
def test_safe_key_refuses_non_strings(value: object) -> None:
    with pytest.raises(UnsafeKey, match="must be a string"):
        safe_key(value)  # type: ignore[arg-type]


def test_check_sha256_suggests_lowercase() -> None:
    with pytest.raises(UnsafeKey) as info:
        check_sha256("AB" * 32)
    assert info.value.fix == "write the digest in lowercase"
    with pytest.raises(UnsafeKey, match="bytes"):
        check_sha256(b"0" * 64)


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _escape_names(tmp_path: Path) -> list[str]:
    absolute = str(tmp_path / "escaped-abs")
    return [
        "../escaped",
        "../../escaped",
        "a/../../escaped",
        "..\\escaped",
        "..%2fescaped",
        "%2e%2e%2fescaped",
        "%252e%252e%252fescaped",
        absolute,
        absolute.replace("/", "\\"),
        f"file://{absolute}",
        "\uff0e\uff0e/escaped",
        "~/escaped",
    ]


def test_refused_puts_write_nothing_outside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "outer" / "store"
    store = LocalArtifactStore(root)
    watched = tmp_path.parent
    before = _tree(watched)
    for name in _escape_names(tmp_path):
        with pytest.raises(UnsafeKey):
            store.put_named(name, b"payload")
    assert _tree(watched) == before
    assert store.list_named() == []
    assert not any(p.is_file() for p in root.rglob("*"))


def test_symlink_inside_the_store_cannot_lead_outside(tmp_path: Path) -> None:
    root = tmp_path / "store"
    outside = tmp_path / "outside"
    outside.mkdir()
    store = LocalArtifactStore(root)
    os.symlink(outside, root / "named" / "link", target_is_directory=True)
    with pytest.raises(UnsafeKey, match="symbolic link"):
        store.put_named("link/file", b"x")
    with pytest.raises(UnsafeKey, match="symbolic link"):
        store.get_named("link/file")
    assert list(outside.iterdir()) == []


def test_named_key_nested_under_an_object_is_refused(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "store")
    store.put_named("a", b"object")
    with pytest.raises(ArtifactError, match="already a named object") as info:
        store.put_named("a/b", b"nested")
    assert info.value.fix
    store.put_named("dir/x", b"1")
    with pytest.raises(ArtifactError, match="stored below that key"):
        store.put_named("dir", b"2")
    assert store.get_named("a") == b"object"


def test_a_symlinked_shard_folder_is_not_followed_when_writing(tmp_path: Path) -> None:
    root = tmp_path / "store"
    outside = tmp_path / "outside"
    outside.mkdir()
    store = LocalArtifactStore(root)
    data = b"weights"
    shard = hashlib.sha256(data).hexdigest()[:2]
    (root / "sha256").mkdir(exist_ok=True)
    os.symlink(outside, root / "sha256" / shard, target_is_directory=True)
    source = tmp_path / "model.bin"
    source.write_bytes(data)
    for put in (
        lambda: store.put_bytes(data),
        lambda: store.put_file(source),
        lambda: store.put_file(source, move=True),
    ):
        with pytest.raises(UnsafeKey, match="symbolic link"):
            put()
    assert list(outside.iterdir()) == []
    assert source.read_bytes() == data  # a refused move gives the file back
    assert list((root / "tmp").iterdir()) == []


def test_a_symlinked_tmp_folder_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "store"
    outside = tmp_path / "outside"
    outside.mkdir()
    root.mkdir()
    os.symlink(outside, root / "tmp", target_is_directory=True)
    with pytest.raises(UnsafeKey, match="symbolic link"):
        LocalArtifactStore(root)


@pytest.mark.parametrize(
    "url",
    [
        "file:///srv/store%2f..%2f..%2fetc",
        "file:///srv/store%2F..%2Fsecrets",
        "file:///srv/store%5c..%5cother",
        "file:///srv/store/%2e%2e/other",
        "file:///srv/store/../other",
        "s3://bucket/team/%2e%2e/other",
    ],
)
def test_store_urls_that_hide_a_way_out_are_refused(url: str) -> None:
    with pytest.raises(ConfigError, match=r"%2f or %5c|'\.\.'") as info:
        open_artifact_store(url)
    assert info.value.fix
