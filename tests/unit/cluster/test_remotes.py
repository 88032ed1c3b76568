"""What the driver hands the nodes as the data remote's URL."""

from __future__ import annotations

from pathlib import Path

from cairn.repo.cluster import ClusterQueue


def test_a_relative_folder_remote_is_handed_over_as_the_folder_cairn_pushes_to(repo, tmp_path: Path) -> None:
    """`cairn remote add -d store ../store` is relative to the repository root; a node's run
    folder is elsewhere, so it must get the absolute folder (it used to get `../store` as is,
    and its pull found nothing there)."""
    repo.remotes.add("store", "../store", default=True)
    name, url = ClusterQueue(repo).data_remote()
    assert (name, url) == ("store", str((repo.root / ".." / "store").resolve()))
    assert url == repo.remotes.open("store").storage.root  # the folder `cairn push` writes


def test_urls_and_absolute_folders_are_handed_over_unchanged(repo) -> None:
    repo.remotes.add("s3", "s3://bucket/project", default=True)
    assert ClusterQueue(repo).data_remote() == ("s3", "s3://bucket/project")
    repo.remotes.add("abs", "/srv/store", default=True)
    assert ClusterQueue(repo).data_remote() == ("abs", "/srv/store")
