"""`.cairn/config.toml` merged with `.cairn/config.local.toml`; validated, written with comments kept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cairn.errors import ConfigError
from cairn.repo.config import (
    CONFIG_FILE,
    CREDENTIAL_NAMES,
    DEFAULT_CONFIG,
    KNOWN,
    LOCAL_CONFIG_FILE,
    REMOTE_KEYS,
    SECRET_KEYS,
    Config,
    coerce,
    is_credential,
    is_secret,
    redacted,
    url_credential,
    write,
)


@pytest.fixture
def dot(tmp_path: Path) -> Path:
    d = tmp_path / ".cairn"
    d.mkdir()
    (d / CONFIG_FILE).write_text(DEFAULT_CONFIG)
    return d


def test_defaults_without_any_file(tmp_path: Path) -> None:
    cfg = Config(tmp_path)
    for key, (_, default) in KNOWN.items():
        assert cfg.get(key) == default


def test_the_walk_split_default_is_the_walks_own() -> None:
    from cairn.index.scan import SPLIT_FILES

    # written out in KNOWN so that reading the config does not import the walk
    assert KNOWN["core.walk_split_files"] == (int, SPLIT_FILES)


def test_the_hash_split_default_is_the_hashings_own() -> None:
    from cairn.index.hashpending import SPLIT_FILES

    assert KNOWN["core.hash_split_files"] == (int, SPLIT_FILES)


def test_default_config_file_reads_as_the_defaults(dot: Path) -> None:
    cfg = Config(dot)
    assert cfg.get("cache.type") == ["reflink", "copy"]
    assert cfg.get("cache.dir") == "cache"
    assert cfg.get("core.no_scm") is False
    assert cfg.get("core.lock_wait") == 5


def test_local_overrides_committed(dot: Path) -> None:
    (dot / CONFIG_FILE).write_text('version = 1\n[cache]\ndir = "committed"\ntype = ["copy"]\n')
    (dot / LOCAL_CONFIG_FILE).write_text('[cache]\ndir = "/mnt/shared"\n[core]\nlock_wait = 0.5\n')
    cfg = Config(dot)
    assert cfg.get("cache.dir") == "/mnt/shared"
    assert cfg.get("cache.type") == ["copy"]  # untouched keys come from config.toml
    assert cfg.get("core.lock_wait") == 0.5
    assert cfg.get("core.no_scm") is False  # and the rest from the defaults


def test_dotted_keys_are_the_same_as_tables(dot: Path) -> None:
    (dot / CONFIG_FILE).write_text('version = 1\ncache.dir = "dotted"\n')
    assert Config(dot).get("cache.dir") == "dotted"


def test_unknown_key_in_a_file(dot: Path) -> None:
    (dot / CONFIG_FILE).write_text('version = 1\n[cache]\ndri = "typo"\n')
    with pytest.raises(ConfigError) as e:
        Config(dot)
    assert e.value.message == "unknown config key 'cache.dri'"
    assert "cache.dir" in (e.value.hint or "")
    assert e.value.code == "bad-config"


def test_unknown_section(dot: Path) -> None:
    (dot / LOCAL_CONFIG_FILE).write_text("[remote]\nurl = 1\n")
    with pytest.raises(ConfigError, match=re.escape("unknown config key 'remote.url'")):
        Config(dot)


def test_unknown_key_on_get(dot: Path) -> None:
    with pytest.raises(ConfigError) as e:
        Config(dot).get("cache.nope")
    assert "unknown config key 'cache.nope'" in e.value.message
    assert all(k in (e.value.hint or "") for k in KNOWN)


@pytest.mark.parametrize(
    "text,key,found",
    [
        ("[cache]\ndir = 5\n", "cache.dir", "int"),
        ('[core]\nno_scm = "yes"\n', "core.no_scm", "str"),
        ('[core]\nlock_wait = "5"\n', "core.lock_wait", "str"),
        ("[cache]\ntype = 3\n", "cache.type", "int"),
    ],
)
def test_wrong_type_is_refused(dot: Path, text: str, key: str, found: str) -> None:
    (dot / CONFIG_FILE).write_text("version = 1\n" + text)
    with pytest.raises(ConfigError) as e:
        Config(dot)
    assert e.value.message == f"config key {key} has the wrong type ({found})"


def test_wrong_type_message_names_the_file_and_the_expected_type(dot: Path) -> None:
    (dot / LOCAL_CONFIG_FILE).write_text("[cache]\ndir = 5\n")
    with pytest.raises(ConfigError) as e:
        Config(dot)
    assert LOCAL_CONFIG_FILE in str(e.value)
    assert "str" in str(e.value) or "string" in str(e.value)


def test_boolean_is_not_a_number(dot: Path) -> None:
    # bool is an int subclass in Python; the config must still tell them apart
    (dot / CONFIG_FILE).write_text("version = 1\n[core]\nlock_wait = true\n")
    with pytest.raises(ConfigError, match=re.escape("config key core.lock_wait has the wrong type (bool)")):
        Config(dot)


def test_remote_keys(dot: Path) -> None:
    (dot / CONFIG_FILE).write_text(
        'version = 1\n[core]\nremote = "store"\n[remote.store]\nurl = "s3://bucket/p"\njobs = 8\n'
    )
    (dot / LOCAL_CONFIG_FILE).write_text('[remote.store]\nsecret_access_key = "s3cr3t"\n')
    cfg = Config(dot)
    assert cfg.get("core.remote") == "store"
    assert cfg.get("remote.store.url") == "s3://bucket/p"
    assert cfg.remotes() == {"store": {"url": "s3://bucket/p", "jobs": 8, "secret_access_key": "s3cr3t"}}


def test_credentials_in_the_committed_file_are_refused(dot: Path) -> None:
    (dot / CONFIG_FILE).write_text('version = 1\n[remote.store]\nurl = "s3://b"\naccess_key_id = "AKIA"\n')
    with pytest.raises(ConfigError) as e:
        Config(dot)
    assert "holds credentials (remote.store.access_key_id)" in e.value.message
    assert LOCAL_CONFIG_FILE in (e.value.hint or "")


@pytest.mark.parametrize("key", sorted(SECRET_KEYS | CREDENTIAL_NAMES))
def test_every_credential_in_the_committed_file_is_refused(dot: Path, key: str) -> None:
    value = '["k"]' if REMOTE_KEYS[key] == (list, str) else '"v"'
    (dot / CONFIG_FILE).write_text(f'version = 1\n[remote.store]\nurl = "s3://b"\n{key} = {value}\n')
    with pytest.raises(ConfigError, match=re.escape(f"holds credentials (remote.store.{key})")):
        Config(dot)
    (dot / LOCAL_CONFIG_FILE).write_text((dot / CONFIG_FILE).read_text())
    (dot / CONFIG_FILE).write_text(DEFAULT_CONFIG)
    assert key in Config(dot).remotes()["store"]


@pytest.mark.parametrize("key", ["remote.store.colour", "remote.bad name.url", "remote.url"])
def test_unknown_or_malformed_remote_keys(dot: Path, key: str) -> None:
    with pytest.raises(ConfigError):
        coerce(key, "x")


def test_invalid_toml(dot: Path) -> None:
    (dot / CONFIG_FILE).write_text("version = 1\n[cache\n")
    with pytest.raises(ConfigError) as e:
        Config(dot)
    assert str(dot / CONFIG_FILE) in e.value.message
    assert "is not valid TOML" in e.value.message


@pytest.mark.parametrize("name", [CONFIG_FILE, LOCAL_CONFIG_FILE])
@pytest.mark.parametrize("version", ["2", '"1"', "0"])
def test_unknown_version_is_refused(dot: Path, name: str, version: str) -> None:
    (dot / name).write_text(f"version = {version}\n")
    with pytest.raises(ConfigError) as e:
        Config(dot)
    assert str(dot / name) in e.value.message
    assert "this cairn reads version 1" in e.value.message
    assert e.value.hint == "upgrade cairn"


# -- writing ------------------------------------------------------------------------------------
def test_write_keeps_comments_and_layout(dot: Path) -> None:
    write(dot, "cache.dir", "/mnt/shared/cache")
    text = (dot / CONFIG_FILE).read_text()
    # every line of the default file is still there, comments included
    for line in DEFAULT_CONFIG.splitlines():
        assert line in text.splitlines()
    assert 'dir = "/mnt/shared/cache"' in text
    assert Config(dot).get("cache.dir") == "/mnt/shared/cache"


def test_write_new_section_and_unset(dot: Path) -> None:
    write(dot, "core.lock_wait", 0.25)
    assert Config(dot).get("core.lock_wait") == 0.25
    write(dot, "core.lock_wait", None)
    assert Config(dot).get("core.lock_wait") == 5
    assert "lock_wait" not in (dot / CONFIG_FILE).read_text()
    assert "# cairn configuration" in (dot / CONFIG_FILE).read_text()


def test_unset_of_a_key_that_is_not_set(dot: Path) -> None:
    before = (dot / CONFIG_FILE).read_text()
    write(dot, "core.no_scm", None)
    write(dot, "cache.dir", None)
    assert (dot / CONFIG_FILE).read_text() == before


def test_write_local_creates_the_file_and_overrides(dot: Path) -> None:
    write(dot, "cache.type", ["hardlink", "copy"], local=True)
    assert (dot / LOCAL_CONFIG_FILE).exists()
    assert Config(dot).get("cache.type") == ["hardlink", "copy"]
    assert (dot / CONFIG_FILE).read_text() == DEFAULT_CONFIG  # the committed file is untouched


def test_write_replaces_a_value_and_leaves_no_temp_file(dot: Path) -> None:
    write(dot, "core.no_scm", True)
    write(dot, "core.no_scm", False)
    assert Config(dot).get("core.no_scm") is False
    assert (dot / CONFIG_FILE).read_text().count("no_scm") == 1
    assert sorted(p.name for p in dot.iterdir()) == [CONFIG_FILE]


def test_write_then_read_every_key_type(dot: Path) -> None:
    values = {"core.no_scm": True, "core.lock_wait": 12, "cache.dir": "elsewhere", "cache.type": ["symlink"]}
    for key, value in values.items():
        write(dot, key, value)
    cfg = Config(dot)
    assert {k: cfg.get(k) for k in values} == values


# -- coerce -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw,expected", [("true", True), ("YES", True), ("1", True), ("false", False), ("No", False), ("0", False)]
)
def test_coerce_bool(raw: str, expected: bool) -> None:
    assert coerce("core.no_scm", raw) is expected


def test_coerce_bad_bool() -> None:
    with pytest.raises(ConfigError, match=re.escape("core.no_scm takes true or false, not 'maybe'")):
        coerce("core.no_scm", "maybe")


@pytest.mark.parametrize("raw,expected", [("5", 5), ("0", 0), ("2.5", 2.5), ("-1", -1)])
def test_coerce_number(raw: str, expected: float) -> None:
    value = coerce("core.lock_wait", raw)
    assert value == expected
    assert type(value) is type(expected)


def test_coerce_bad_number() -> None:
    with pytest.raises(ConfigError, match=re.escape("core.lock_wait takes a number, not 'soon'")):
        coerce("core.lock_wait", "soon")


def test_coerce_list_and_str() -> None:
    assert coerce("cache.type", "hardlink, copy") == ["hardlink", "copy"]
    assert coerce("cache.type", "copy") == ["copy"]
    assert coerce("cache.type", " , ,") == []
    assert coerce("cache.dir", "/mnt/x") == "/mnt/x"


def test_coerce_unknown_key() -> None:
    with pytest.raises(ConfigError, match="unknown config key 'nope'"):
        coerce("nope", "1")


def test_coerced_values_pass_validation(dot: Path) -> None:
    for key, raw in {"core.no_scm": "yes", "core.lock_wait": "1.5", "cache.type": "copy", "cache.dir": "x"}.items():
        write(dot, key, coerce(key, raw), local=True)
    Config(dot)  # no ConfigError


# -- credentials --------------------------------------------------------------------------------
@pytest.mark.parametrize("key", sorted(SECRET_KEYS | CREDENTIAL_NAMES))
def test_write_refuses_a_credential_for_the_committed_file(dot: Path, key: str) -> None:
    full = f"remote.store.{key}"
    value = coerce(full, "s3cr3t")
    with pytest.raises(ConfigError) as e:
        write(dot, full, value)
    assert e.value.message == f"{full} is a credential and would be committed with {dot / CONFIG_FILE}"
    assert (
        e.value.hint
        == f"add --local to keep it in {dot / LOCAL_CONFIG_FILE} (git-ignored), or use environment variables"
    )
    assert e.value.code == "bad-config"
    assert (dot / CONFIG_FILE).read_text() == DEFAULT_CONFIG
    write(dot, full, value, local=True)
    assert Config(dot).get(full) == value
    write(dot, full, None)  # unsetting one is never refused


def test_write_refuses_a_table_that_holds_a_credential(dot: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape("remote.store.password is a credential")):
        write(dot, "remote.store", {"url": "ssh://host/srv", "password": "pw"})
    assert (dot / CONFIG_FILE).read_text() == DEFAULT_CONFIG


@pytest.mark.parametrize("name", ["api_token", "private_key_file", "credentials_file", "db_password", "key_filename"])
def test_names_like_a_credential_count_as_one(name: str) -> None:
    """A setting added later under such a name is guarded without editing the key sets."""
    assert is_secret(f"remote.store.{name}")
    assert is_credential(f"remote.store.{name}")


@pytest.mark.parametrize(
    "key", ["url", "endpoint_url", "region", "profile", "jobs", "account_name", "tenant_id", "client_id", "username"]
)
def test_plain_settings_are_not_credentials(dot: Path, key: str) -> None:
    assert not is_credential(f"remote.store.{key}")
    write(dot, f"remote.store.{key}", coerce(f"remote.store.{key}", "1"))


def test_remote_settings_are_options_of_their_backend() -> None:
    """Settings other than cairn's own and S3's (mapped in storage/fsspec.py) reach adlfs, gcsfs
    and sshfs (asyncssh) under their own names: each must be an option there."""
    import inspect

    adlfs = pytest.importorskip("adlfs")
    gcsfs = pytest.importorskip("gcsfs.core")
    asyncssh = pytest.importorskip("asyncssh")
    own = {"url", "jobs", "pack_size"}
    s3 = {"endpoint_url", "region", "profile", "access_key_id", "secret_access_key", "session_token"}
    options = {
        "azure": set(inspect.signature(adlfs.AzureBlobFileSystem.__init__).parameters),
        "gs": set(inspect.signature(gcsfs.GCSFileSystem.__init__).parameters),
        "ssh": set(inspect.signature(asyncssh.SSHClientConnectionOptions.prepare).parameters)
        | set(inspect.signature(asyncssh.connect).parameters),
    }
    homeless = [k for k in REMOTE_KEYS if k not in own | s3 and not any(k in o for o in options.values())]
    assert homeless == []


@pytest.mark.parametrize(
    "url,what",
    [
        ("s3://AKIA:wJalr/K7MDENG@bucket/p", "a password in user:password@"),
        ("ssh://alice:pw@host/srv", "a password in user:password@"),
        ("ssh://alice:1234@host:22/srv", "a password in user:password@"),
        ("az://c/p?sv=2024&sig=abc%2Fdef", "the query parameter 'sig'"),
        ("https://h/p?X-Amz-Credential=a&X-Amz-Signature=b", "the query parameter 'X-Amz-Credential'"),
        ("gs://bucket/p?access_token=x", "the query parameter 'access_token'"),
        ("AccountName=a;accountkey=k;EndpointSuffix=x", "an Azure connection string with AccountKey"),
        (
            "BlobEndpoint=https://a;SharedAccessSignature=sv=1&sig=2",
            "an Azure connection string with SharedAccessSignature",
        ),
        ("s3://bucket/p", None),
        ("ssh://git@host:2222/srv", None),
        ("ssh://host:22/srv/with@sign", None),
        ("s3://bucket/p?versionId=3", None),
        ("/mnt/a:b@c", None),
        ("relative/folder", None),
    ],
)
def test_url_credential(url: str, what: str | None) -> None:
    assert url_credential(url) == what


def test_write_refuses_a_url_that_carries_a_credential(dot: Path) -> None:
    for key in ("remote.store.url", "remote.store.endpoint_url"):
        with pytest.raises(ConfigError) as e:
            write(dot, key, "https://alice:pw@minio.example:9000")
        assert e.value.message == (
            f"{key} holds a credential (a password in user:password@) and would be committed with {dot / CONFIG_FILE}"
        )
    assert (dot / CONFIG_FILE).read_text() == DEFAULT_CONFIG
    write(dot, "remote.store.url", "https://alice:pw@minio.example:9000", local=True)
    assert Config(dot).get("remote.store.url") == "https://alice:pw@minio.example:9000"


@pytest.mark.parametrize(
    "key,value,shown",
    [
        ("remote.s.password", "pw", "***"),
        ("token", "t", "***"),
        ("remote.s.access_key_id", "AKIA", "AKIA"),
        ("remote.s.url", "s3://AKIA:wJal/rK@bucket/p", "s3://AKIA:***@bucket/p"),
        ("remote.s.url", "az://c?sv=1&sig=abc&se=2", "az://c?sv=1&sig=***&se=2"),
        ("url", "a=1;AccountKey=k==;b=2", "a=1;AccountKey=***;b=2"),
        ("remote.s.url", "ssh://git@host:22/srv", "ssh://git@host:22/srv"),
        ("remote.s.jobs", 4, 4),
    ],
)
def test_redacted(key: str, value: object, shown: object) -> None:
    assert redacted(key, value) == shown
