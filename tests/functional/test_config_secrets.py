"""No command can commit a credential: `cairn config`, `cairn remote add` and `cairn remote
modify` all write through one guard (repo/config.py `write`), which keeps credentials, and URLs
that carry one, out of the committed `.cairn/config.toml`; `--local` puts them in the git-ignored
`.cairn/config.local.toml`. What `cairn remote list` and `remote add` print never shows them."""

from __future__ import annotations

import pytest

from cairn.errors import ConfigError
from cairn.repo.config import CREDENTIAL_NAMES, SECRET_KEYS

VALUE = "s3cr3t-VALUE-0042"


def _committed(repo) -> str:
    return (repo.root / ".cairn" / "config.toml").read_text()


def _refused_hint(repo) -> str:
    local = repo.root / ".cairn" / "config.local.toml"
    return f"add --local to keep it in {local} (git-ignored), or use environment variables"


def _nowhere_in_git(repo, secret: str) -> None:
    """Not in the committed file, nor in anything `git add -A` would stage and commit."""
    assert secret not in _committed(repo)
    repo.git("add", "-A")
    assert secret not in repo.git("diff", "--cached")
    staged = repo.git("diff", "--cached", "--name-only").split()
    assert ".cairn/config.local.toml" not in staged


def test_config_refuses_a_secret_for_the_committed_file_and_keeps_it_local(repo, assert_error):
    """The issue's regression: `cairn config remote.store.secret_access_key VALUE` wrote it into
    the committed config."""
    before = _committed(repo)
    assert_error(
        repo.cairn("config", "remote.store.secret_access_key", VALUE, expect=None),
        ConfigError,
        "remote.store.secret_access_key is a credential and would be committed with "
        f"{repo.root / '.cairn' / 'config.toml'}",
        _refused_hint(repo),
    )
    assert _committed(repo) == before
    _nowhere_in_git(repo, VALUE)

    repo.cairn("config", "--local", "remote.store.secret_access_key", VALUE)
    assert VALUE in (repo.root / ".cairn" / "config.local.toml").read_text()
    assert repo.cairn("config", "remote.store.secret_access_key").stdout == f"{VALUE}\n"
    assert repo.git("check-ignore", ".cairn/config.local.toml").strip() == ".cairn/config.local.toml"
    _nowhere_in_git(repo, VALUE)
    # removing a credential from the committed file is never refused
    repo.cairn("config", "--unset", "remote.store.secret_access_key")


def test_every_credential_setting_is_refused_by_every_command(repo, assert_error):
    repo.cairn("remote", "add", "-d", "store", "s3://bucket/project")
    values = {key: f"{key}-{VALUE}" for key in SECRET_KEYS | CREDENTIAL_NAMES}
    for key, value in sorted(values.items()):
        full = f"remote.store.{key}"
        message = f"{full} is a credential and would be committed with {repo.root / '.cairn' / 'config.toml'}"
        for command in (["config", full, value], ["remote", "modify", "store", key, value]):
            assert_error(repo.cairn(*command, expect=None), ConfigError, message, _refused_hint(repo))
        repo.cairn("remote", "modify", "--local", "store", key, value)
    _nowhere_in_git(repo, VALUE)
    # secrets are masked when listed; a key id and key file paths name a credential and are shown
    listed = repo.json("remote", "list")["remotes"]["store"]
    assert {k for k, v in listed.items() if v == "***"} == SECRET_KEYS
    assert listed["access_key_id"] == values["access_key_id"]
    assert listed["client_keys"] == [values["client_keys"]]
    shown = repo.cairn("remote", "list").stdout
    assert not [key for key in SECRET_KEYS if values[key] in shown]


@pytest.mark.parametrize(
    "url,what",
    [
        (f"s3://AKIAEXAMPLE:{VALUE}@bucket/project", "a password in user:password@"),
        (f"s3://AKIAEXAMPLE:ab/{VALUE}@bucket/project", "a password in user:password@"),
        (f"ssh://alice:{VALUE}@host.example/srv/cairn", "a password in user:password@"),
        (f"az://container/project?sv=2024-01-01&sig={VALUE}", "the query parameter 'sig'"),
        (
            f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={VALUE};EndpointSuffix=core.windows.net",
            "an Azure connection string with AccountKey",
        ),
    ],
)
def test_remote_add_refuses_a_url_that_carries_a_credential(repo, assert_error, url, what):
    message = f"remote.store.url holds a credential ({what}) and would be committed with "
    for command in (["remote", "add", "store", url], ["config", "remote.store.url", url]):
        assert_error(
            repo.cairn(*command, expect=None),
            ConfigError,
            message + str(repo.root / ".cairn" / "config.toml"),
            _refused_hint(repo),
        )
    repo.cairn("remote", "add", "store", "s3://bucket/project")
    assert_error(repo.cairn("remote", "modify", "store", "url", url, expect=None), ConfigError, message)
    _nowhere_in_git(repo, VALUE)

    # locally it is the user's choice; it is still never printed
    added = repo.cairn("remote", "add", "--local", "--force", "store", url).stdout
    assert VALUE not in added and added.startswith("Added remote 'store' at ")
    assert VALUE not in repo.cairn("remote", "list").stdout
    assert VALUE not in repo.cairn("remote", "list", "--json").stdout
    _nowhere_in_git(repo, VALUE)


@pytest.mark.parametrize(
    "url", ["ssh://git@host.example:2222/srv/cairn", "s3://bucket/project?versionId=3", "../store"]
)
def test_urls_without_credentials_are_committed(repo, url):
    repo.cairn("remote", "add", "store", url)
    assert url in _committed(repo)
    assert repo.json("remote", "list")["remotes"]["store"]["url"] == url


def test_a_committed_url_with_a_password_is_refused_on_read(repo, assert_error):
    config = repo.root / ".cairn" / "config.toml"
    config.write_text(config.read_text() + f'\n[remote.store]\nurl = "ssh://alice:{VALUE}@host/srv"\n')
    assert_error(
        repo.cairn("status", expect=None),
        ConfigError,
        f"{config} holds credentials (remote.store.url), and that file is committed",
        f"move them by hand to {repo.root / '.cairn' / 'config.local.toml'} (git-ignored) or into environment "
        "variables; revoke any credential that was already committed",
    )
