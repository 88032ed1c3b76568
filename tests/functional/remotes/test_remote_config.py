"""`cairn remote add / list / modify / remove / default`, where credentials may live, and the
refusals for unknown remotes, a missing default, unknown URL schemes and missing extras."""

from __future__ import annotations

import tomllib

import pytest

from cairn.errors import ConfigError, MissingDependencyError, RemoteError


def _config(repo, local: bool = False) -> dict:
    path = repo.root / ".cairn" / ("config.local.toml" if local else "config.toml")
    return tomllib.loads(path.read_text()) if path.exists() else {}


def test_add_list_default_remove(repo):
    assert repo.cairn("remote", "list").stdout == "No remotes. Add one with `cairn remote add -d NAME URL`.\n"
    assert repo.json("remote", "list") == {"default": None, "remotes": {}}
    assert repo.cairn("remote", "default").stdout == "No default remote (set one with `cairn remote default NAME`).\n"
    assert repo.json("remote", "default") == {"default": None}  # a read command: --json too

    assert repo.cairn("remote", "add", "-d", "store", "s3://bucket/project").stdout == (
        "Added remote 'store' at s3://bucket/project (default)\n"
    )
    assert repo.cairn("remote", "add", "backup", "/mnt/backup").stdout == "Added remote 'backup' at /mnt/backup\n"
    assert _config(repo)["remote"] == {"store": {"url": "s3://bucket/project"}, "backup": {"url": "/mnt/backup"}}
    assert _config(repo)["core"] == {"remote": "store"}
    assert repo.cairn("remote", "list").stdout == "backup\t/mnt/backup\nstore\ts3://bucket/project\t[default]\n"
    assert repo.json("remote", "list") == {
        "default": "store",
        "remotes": {"store": {"url": "s3://bucket/project"}, "backup": {"url": "/mnt/backup"}},
    }
    assert repo.cairn("remote", "default").stdout == "store\n"
    assert repo.json("remote", "default") == {"default": "store"}

    assert repo.cairn("remote", "default", "backup").stdout == "Default remote: backup\n"
    assert repo.json("remote", "list")["default"] == "backup"
    assert repo.cairn("remote", "remove", "backup").stdout == "Removed remote 'backup'\n"
    assert repo.json("remote", "list") == {"default": None, "remotes": {"store": {"url": "s3://bucket/project"}}}
    # The committed file is what git sees.
    assert "backup" not in (repo.root / ".cairn" / "config.toml").read_text()


def test_add_refusals(repo, assert_error):
    repo.cairn("remote", "add", "store", "/a")
    assert_error(
        repo.cairn("remote", "add", "store", "/b", expect=None),
        ConfigError,
        "remote 'store' already exists (/a)",
        "change it with `cairn remote modify store url URL`, or replace it with --force",
    )
    repo.cairn("remote", "add", "--force", "store", "/b")
    assert repo.json("remote", "list")["remotes"]["store"] == {"url": "/b"}
    assert_error(
        repo.cairn("remote", "add", "my store", "/c", expect=None),
        ConfigError,
        "'my store' is not a valid remote name",
        "use letters, digits, '-' and '_' (for example: storage)",
    )


def test_modify_settings_and_unset(repo, assert_error):
    repo.cairn("remote", "add", "-d", "store", "s3://bucket/project")
    settings = {
        "endpoint_url": "http://127.0.0.1:9000",
        "region": "eu-west-1",
        "profile": "ml",
        "jobs": "4",
        "pack_size": "4096",
    }
    for key, value in settings.items():
        assert repo.cairn("remote", "modify", "store", key, value).stdout == f"Set {key} of remote 'store'\n"
    expected = {"url": "s3://bucket/project", **settings, "jobs": 4, "pack_size": 4096}
    assert _config(repo)["remote"]["store"] == expected
    assert repo.json("remote", "list")["remotes"]["store"] == expected
    line = repo.cairn("remote", "list").stdout
    assert line == (
        "store\ts3://bucket/project\t(endpoint_url=http://127.0.0.1:9000, region=eu-west-1, profile=ml, jobs=4, "
        "pack_size=4096)\t[default]\n"
    )
    assert repo.cairn("remote", "modify", "store", "region", "--unset").stdout == "Unset region of remote 'store'\n"
    assert "region" not in _config(repo)["remote"]["store"]
    repo.cairn("remote", "modify", "store", "url", "s3://other/place")
    assert _config(repo)["remote"]["store"]["url"] == "s3://other/place"

    assert_error(
        repo.cairn("remote", "modify", "store", "colour", "blue", expect=None),
        ConfigError,
        "remotes have no setting 'colour'",
        "settings: url, endpoint_url, region, profile, jobs, pack_size, access_key_id, secret_access_key, "
        "session_token",
    )
    assert_error(
        repo.cairn("remote", "modify", "store", "jobs", "many", expect=None),
        ConfigError,
        "remote.store.jobs takes a number, not 'many'",
    )
    proc = repo.cairn("remote", "modify", "store", "jobs", expect=2)
    assert "give a VALUE, or --unset to remove the setting" in proc.stderr


@pytest.mark.parametrize("key", ["access_key_id", "secret_access_key", "session_token"])
def test_credentials_only_in_the_local_config(repo, assert_error, key):
    repo.cairn("remote", "add", "-d", "store", "s3://bucket/project")
    assert_error(
        repo.cairn("remote", "modify", "store", key, "s3cr3t", expect=None),
        ConfigError,
        f"remote.store.{key} is a credential and would be committed with {repo.root / '.cairn' / 'config.toml'}",
        f"add --local to keep it in {repo.root / '.cairn' / 'config.local.toml'} (git-ignored), "
        "or use environment variables",
    )
    assert "s3cr3t" not in (repo.root / ".cairn" / "config.toml").read_text()

    repo.cairn("remote", "modify", "store", key, "s3cr3t", "--local")
    assert _config(repo, local=True) == {"remote": {"store": {key: "s3cr3t"}}}
    assert "s3cr3t" not in (repo.root / ".cairn" / "config.toml").read_text()
    # git does not see it
    assert repo.git("status", "--porcelain", "--ignored", ".cairn/config.local.toml").startswith("!!")
    listed = repo.json("remote", "list")["remotes"]["store"]
    if key == "access_key_id":  # an access key id names the key, it is not the secret
        assert listed[key] == "s3cr3t"
    else:
        assert listed[key] == "***"
        assert "s3cr3t" not in repo.cairn("remote", "list").stdout


def test_committed_config_holding_credentials_is_refused(repo, assert_error):
    config = repo.root / ".cairn" / "config.toml"
    config.write_text(
        config.read_text() + '\n[remote.store]\nurl = "s3://bucket/project"\nsecret_access_key = "leaked"\n'
    )
    assert _config(repo)["remote"]["store"]["secret_access_key"] == "leaked"
    for command in (["remote", "list"], ["push"], ["status"]):
        assert_error(
            repo.cairn(*command, expect=None),
            ConfigError,
            f"{config} holds credentials (remote.store.secret_access_key), and that file is committed",
            f"move them by hand to {repo.root / '.cairn' / 'config.local.toml'} (git-ignored) or into environment "
            "variables; revoke any credential that was already committed",
        )


def test_unknown_remote_suggests_the_nearest(repo, assert_error):
    repo.cairn("remote", "add", "-d", "storage", "/tmp/x")
    repo.cairn("remote", "add", "backup", "/tmp/y")
    for command in (
        ["push", "-r", "storag"],
        ["pull", "-r", "storag"],
        ["fetch", "-r", "storag"],
        ["status", "-r", "storag"],
        ["gc", "--remote", "storag"],
        ["remote", "modify", "storag", "jobs", "2"],
        ["remote", "remove", "storag"],
        ["remote", "default", "storag"],
    ):
        assert_error(
            repo.cairn(*command, expect=None),
            ConfigError,
            "there is no remote named 'storag' (remotes: backup, storage)",
            "did you mean 'storage'?",
        )
    assert_error(
        repo.cairn("push", "-r", "zzz", expect=None),
        ConfigError,
        "there is no remote named 'zzz' (remotes: backup, storage)",
        "add one with `cairn remote add NAME URL`",
    )


def test_no_default_remote(repo, assert_error):
    # no remote at all: setting a default is not the fix, adding one is
    for command in (["push"], ["pull"], ["fetch"], ["status", "--remote"]):
        assert_error(
            repo.cairn(*command, expect=None),
            ConfigError,
            "no remote given and no default remote set (no remote is configured)",
            "add one as the default: `cairn remote add -d NAME URL`",
        )
    repo.cairn("remote", "add", "store", "/tmp/x")  # a remote, but not the default
    assert_error(
        repo.cairn("push", expect=None),
        ConfigError,
        "no remote given and no default remote set (remotes: store)",
        "name one with -r NAME, or set a default: `cairn remote default NAME`",
    )


MISSING_EXTRAS = [("gs", "gs", "gcsfs"), ("az", "azure", "adlfs"), ("ssh", "ssh", "sshfs")]


@pytest.mark.parametrize(("scheme", "extra", "module"), MISSING_EXTRAS, ids=[m[0] for m in MISSING_EXTRAS])
def test_missing_extra_names_the_install(repo, assert_error, scheme, extra, module, tmp_path):
    # the dev extra installs every backend: hide this one, as a plain install lacks it
    hide = tmp_path / "hide" / module
    hide.mkdir(parents=True)
    (hide / "__init__.py").write_text(f'raise ImportError("No module named {module}", name="{module}")\n')
    repo.cairn("remote", "add", "-d", "store", f"{scheme}://bucket/project")
    for command in (["push"], ["status", "--remote"]):
        assert_error(
            repo.cairn(*command, expect=None, env={"PYTHONPATH": str(hide.parent)}),
            MissingDependencyError,
            f"remotes with {scheme}:// need an optional package that is not installed",
            f'install it with: pip install "cairn[{extra}]"',
        )


@pytest.mark.parametrize(
    ("url", "error", "message", "hint"),
    [
        (
            "zzz://bucket/x",
            RemoteError,
            "no storage backend knows the URL scheme zzz://",
            "use a local path, s3://, gs://, az:// or ssh://",
        ),
        (
            "my bucket://x",
            ConfigError,
            "cannot read the remote URL 'my bucket://x'",
            "use a path, file://, s3://, gs://, az:// or ssh://",
        ),
    ],
    ids=["unknown-scheme", "unreadable"],
)
def test_urls_no_backend_can_use(repo, assert_error, url, error, message, hint):
    repo.cairn("remote", "add", "-d", "store", url)
    assert_error(repo.cairn("push", expect=None), error, message, hint)


def test_file_url(repo, tmp_path):
    repo.write({"a.txt": b"a"})
    repo.cairn("add", "a.txt")
    repo.cairn("remote", "add", "-d", "store", f"file://{tmp_path / 'remote'}")
    assert repo.json("push")["transferred"] == 1
    assert (tmp_path / "remote" / "cairn-remote.json").is_file()


def test_a_relative_folder_typed_in_a_subfolder_is_taken_from_there(repo, tmp_path):
    """`../store` typed in data/ is the folder beside the repository; the config reads URLs from
    the root, so it is stored as such (it was stored as typed: a folder one level too high)."""
    (repo.root / "data").mkdir()
    repo.cairn("remote", "add", "-d", "store", "../../beside", cwd=repo.root / "data")
    assert repo.json("remote", "list")["remotes"]["store"]["url"] == "../beside"
    repo.cairn("remote", "modify", "store", "url", "../../beside2", cwd=repo.root / "data")
    assert repo.json("remote", "list")["remotes"]["store"]["url"] == "../beside2"
    repo.cairn("remote", "add", "top", "../as-typed")  # at the root: kept as written
    assert repo.json("remote", "list")["remotes"]["top"]["url"] == "../as-typed"
    repo.write({"data/f.bin": b"f"})
    repo.cairn("add", "data/f.bin")
    repo.cairn("push", cwd=repo.root / "data")
    assert (repo.root.parent / "beside2" / "cairn-remote.json").exists()


def test_adding_then_removing_a_remote_leaves_the_committed_config_as_it_was(repo):
    repo.cairn("remote", "add", "-d", "store", "/tmp/store")
    repo.cairn("remote", "add", "lake", "s3://lake")
    repo.cairn("remote", "modify", "lake", "endpoint_url", "http://127.0.0.1:9000")
    text = (repo.root / ".cairn" / "config.toml").read_text()
    # each table apart from the next (the new one ran into `[core]`)
    assert 'endpoint_url = "http://127.0.0.1:9000"\n\n[core]' in text and not text.endswith("\n\n")
    repo.commit("remotes")
    repo.cairn("remote", "add", "tmp", "/tmp/other")
    repo.cairn("remote", "remove", "tmp")
    assert (repo.root / ".cairn" / "config.toml").read_text() == text  # no stray blank line for git


def test_jobs_and_pack_size_below_one_are_refused(repo, assert_error):
    repo.cairn("remote", "add", "-d", "store", "/tmp/store")
    before = (repo.root / ".cairn" / "config.toml").read_text()
    for args in (["remote", "modify", "store", "jobs", "0"], ["remote", "modify", "store", "pack_size", "0"]):
        assert_error(
            repo.cairn(*args, expect=None), ConfigError, f"remote.store.{args[3]} takes a number of at least 1"
        )
    assert_error(repo.cairn("config", "cache.pack_size", "0", expect=None), ConfigError, "at least 1, not '0'")
    assert (repo.root / ".cairn" / "config.toml").read_text() == before  # nothing written
