"""Stats records travel with the data: pushed to an S3 (moto) remote, read back by a clone that
never fetched the data, and pulled with it."""

from __future__ import annotations

import json

from s3server import s3_client


def test_stats_pushed_and_read_back_without_the_data(versions, s3_url, configure_s3, clone, moto_endpoint) -> None:
    configure_s3(versions, s3_url)
    versions.commit("remote")
    oids = {}
    for tag in ("v1", "v2", "HEAD"):
        oids[tag] = versions.json("data", "stats", "data/t.csv", "--rev", tag)["oid"]
    versions.cairn("push", "--all-commits")

    bucket, _, prefix = s3_url.removeprefix("s3://").partition("/")
    keys = {
        o["Key"] for o in s3_client(moto_endpoint).list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/stats/")["Contents"]
    }
    assert keys == {f"{prefix}/stats/{oid}.json" for oid in oids.values()}

    other = clone(versions, "other")
    configure_s3(other)
    got = other.json("data", "stats", "data/t.csv", "--rev", "v1")
    mine = versions.json("data", "stats", "data/t.csv", "--rev", "v1")
    assert got["from"] == "remote" and got["stats"] == mine["stats"]
    assert not (other.root / ".cairn" / "cache" / "objects").exists() or not other.cache_oids()
    # drift between two versions whose data this clone never had
    doc = other.json("data", "diff", "data/t.csv", "v1", "v2", "--stats")
    assert doc["dataset"]["drift"]
    assert not other.cache_oids()
    # the workspace's pointer of a clone that has not pulled: its version, from the remote
    assert other.json("data", "stats", "data/t.csv")["from"] == "remote"
    # a version nobody computed stats for: the data is needed
    proc = other.cairn("data", "stats", "data/t.parquet", "--rev", "v3", expect=4)
    assert "the data of data/t.parquet at v3 is not on this machine and no remote holds its stats" in proc.stderr


def test_pull_brings_the_stats_of_what_it_fetches(versions, s3_url, configure_s3, clone) -> None:
    configure_s3(versions, s3_url)
    versions.commit("remote")
    head = versions.json("data", "stats", "data/t.parquet")
    versions.cairn("push")
    other = clone(versions, "pulling")
    configure_s3(other)
    other.cairn("pull")
    stored = other.root / ".cairn" / "cache" / "stats" / head["oid"][:2] / f"{head['oid'][2:]}.json"
    assert json.loads(stored.read_bytes()) == head["stats"]
    assert other.json("data", "stats", "data/t.parquet")["from"] == "cache"
    # nothing new: a second push uploads no stats and fails nothing
    assert versions.json("push")["transferred"] == 0


def test_monitor_reads_a_batch_from_an_s3_prefix(versions, s3_url, configure_s3, moto_endpoint, tables) -> None:
    import io

    configure_s3(versions, s3_url)
    (versions.root / "cairn.yaml").write_text(
        "monitors:\n  prod:\n    reference: data/t.csv@v1\n    features: [x, k]\n"
    )
    bucket, _, prefix = s3_url.removeprefix("s3://").partition("/")
    client = s3_client(moto_endpoint)
    for i, shift in enumerate((1.5, 1.5)):
        buf = io.BytesIO()
        tables(30 + i, shift=shift, rows=1000).write_parquet(buf)
        client.put_object(Bucket=bucket, Key=f"{prefix}/logs/day1/part{i}.parquet", Body=buf.getvalue())
    client.put_object(Bucket=bucket, Key=f"{prefix}/logs/day1/_SUCCESS", Body=b"")
    url = f"s3://{bucket}/{prefix}/logs/day1/"
    proc = versions.cairn("monitor", "run", "prod", url, "--json", expect=1)
    s = json.loads(proc.stdout)
    assert s["batch"] == url and s["rows"] == 2000 and s["alert"] and s["drifted_features"] == ["x"]
    assert not list((versions.root / ".cairn" / "tmp").glob("batch-*"))  # the download is gone
    proc = versions.cairn("monitor", "run", "prod", f"s3://{bucket}/{prefix}/nothing/", expect=2)
    assert f"error: s3://{bucket}/{prefix}/nothing/ holds no CSV/TSV, Parquet or JSON Lines file" in proc.stderr
