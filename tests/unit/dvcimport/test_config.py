"""DVC's config (configobj INI, config.local merged over config) as cairn remotes, and
.dvcignore files as one root .cairnignore."""

from __future__ import annotations

from cairn.dvcimport.config import cairn_url, ignore_lines, parse_ini, read_config, storage_url
from cairn.dvcimport.problems import Problems

CONFIG = """[core]
    remote = store
    autostage = true
['remote "store"']
    url = s3://bucket/dvc
    endpointurl = http://127.0.0.1:9000
    version_aware = true
['remote "local"']
    url = ../../dvcstore
[cache]
    dir = ../cache
"""


def test_parse_ini_as_dvc_writes_it():
    sections = parse_ini(CONFIG + "# comment\n; another\n")
    assert sections["core"] == {"remote": "store", "autostage": "true"}
    assert sections['remote "store"']["url"] == "s3://bucket/dvc"


def test_read_config_remotes_cache_and_local_secrets(tmp_path):
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc" / "config").write_text(CONFIG)
    (tmp_path / ".dvc" / "config.local").write_text(
        "['remote \"store\"']\n    access_key_id = AKIA\n    secret_access_key = s3cr3t\n"
    )
    p = Problems()
    config = read_config(tmp_path, p)
    assert config.default_remote == "store"
    assert config.cache_dir == "cache"
    store = config.remotes["store"]
    assert store.options == {"endpoint_url": "http://127.0.0.1:9000"}
    assert store.secrets == {"access_key_id": "AKIA", "secret_access_key": "s3cr3t"}
    assert ".dvc/config remote store: setting 'version_aware' has no cairn equivalent and was left out" in p.notes
    assert p.items == []


def test_config_problems(tmp_path):
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc" / "config").write_text("[core]\n    remote = gone\n['remote \"empty\"']\n    region = x\n")
    p = Problems()
    config = read_config(tmp_path, p)
    assert p.items == [".dvc/config remote empty: has no url"]
    assert ".dvc/config: the default remote 'gone' is not defined" in p.notes
    assert config.default_remote is None
    (tmp_path / ".dvc" / "config").write_bytes(b"\xff\xfe")
    p = Problems()
    read_config(tmp_path, p)
    assert p.items == [".dvc/config: is not UTF-8 text"]


def test_urls():
    assert cairn_url("s3://bucket/dvc/") == "s3://bucket/dvc/cairn"
    assert cairn_url("/mnt/store") == "/mnt/store/cairn"
    assert cairn_url("../../dvcstore") == "../dvcstore/cairn"  # DVC: relative to .dvc/; cairn: to the root


def test_storage_url_of_a_relative_folder(tmp_path):
    assert storage_url(tmp_path, "../store") == str(tmp_path / ".dvc" / "../store")
    assert storage_url(tmp_path, "s3://b/p") == "s3://b/p"


def test_ignore_lines_anchor_patterns_of_nested_files(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / ".dvcignore").write_text("# top\n*.tmp\n")
    (tmp_path / "data" / ".dvcignore").write_text("cache/\n!keep.tmp\nsub/x.bin\n\n")
    lines = ignore_lines(tmp_path, [".dvcignore", "data/.dvcignore"], Problems())
    assert lines == [
        "# top",
        "*.tmp",
        "# from data/.dvcignore",
        "/data/**/cache/",
        "!/data/**/keep.tmp",
        "/data/sub/x.bin",
        "",
    ]
    from cairn.index.ignore import Ignore

    ig = Ignore([ln for ln in lines if ln.strip() and not ln.startswith("#")])
    assert ig.match("data/a/cache", True) and not ig.match("other/cache", True)
    assert ig.match("data/sub/x.bin", False) and not ig.match("data/keep.tmp", False)


def test_ignore_file_not_utf8(tmp_path):
    (tmp_path / ".dvcignore").write_bytes(b"\xff")
    p = Problems()
    ignore_lines(tmp_path, [".dvcignore"], p)
    assert p.items == [".dvcignore: is not UTF-8 text"]


def test_invalid_ignore_pattern(tmp_path):
    (tmp_path / ".dvcignore").write_text("ok.txt\n!\n")
    p = Problems()
    assert ignore_lines(tmp_path, [".dvcignore"], p) == ["ok.txt"]
    assert p.items == [".dvcignore: pattern '!' is not valid gitignore syntax"]


def test_cache_types_carry_over_when_cairn_has_them(tmp_path):
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc" / "config").write_text('[cache]\n    type = "hardlink,symlink"\n')
    p = Problems()
    assert read_config(tmp_path, p).cache_types == ["hardlink", "symlink"]
    assert "the workspace's tracked files may be links into .dvc/cache" in p.notes[0]
    (tmp_path / ".dvc" / "config").write_text("[cache]\n    type = weird\n")
    p = Problems()
    assert read_config(tmp_path, p).cache_types == []
    assert p.notes == [".dvc/config: cache.type 'weird' is not cairn's; cairn's default is kept"]
