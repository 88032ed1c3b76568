"""Queued experiments on a Ray cluster: composes the queue (experiments), the git and cairn
remotes the nodes reach, and the Ray driver (cluster). Nothing here imports Ray until a
command asks for the Ray executor."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.errors import CairnError, ClusterError, ClusterUnreachableError, UserInputError
from cairn.experiments import executor
from cairn.experiments import overrides as ovr
from cairn.experiments.queue import Entry
from cairn.processes import running
from cairn.repo.roots import commit_roots

if TYPE_CHECKING:
    from cairn.repo.repo import Repo

QUEUE_REFS = "refs/cairn/queue/"  # + a baseline commit: pushed so that nodes can fetch it
_READY_TIMEOUT = 120.0  # s `queue start` waits for the driver to connect and check the cluster


def parse_resources(text: str | None) -> dict[str, float] | None:
    if text is None:
        return None
    from cairn.cluster.resources import parse

    return parse(text)


class ClusterQueue:
    def __init__(self, repo: Repo, git_remote: str = "origin") -> None:
        self.repo = repo
        self.git = repo._need_git("queue start --executor ray")
        self.ctx = executor.ExpContext(repo.root, repo.dot, repo.ws, self.git, repo.environment)
        self.git_remote = git_remote
        self._pushed_baselines: dict[str, bool] = {}  # ref and data on the remotes; has it data?
        self._queue_refs: set[str] = set()  # pushed by this driver, deleted when it ends

    # -- queueing --------------------------------------------------------------------------------
    def enqueue(self, specs: list[str], name: str | None, targets: list[str], resources: str | None) -> list[Entry]:
        """`exp run --queue --resources ...`: the request is checked before anything is queued."""
        parsed = parse_resources(resources)
        return executor.enqueue(self.ctx, ovr.combinations(ovr.parse(specs)), name, targets, parsed)

    # -- what the nodes need ---------------------------------------------------------------------
    def git_url(self) -> str:
        """The URL of the git remote the nodes fetch baselines from and push results to."""
        try:
            url = self.git.repo.remotes[self.git_remote].url
        except (KeyError, ValueError):
            raise ClusterError(
                f"the Ray executor needs a git remote the nodes can reach; this repository has no remote "
                f"{self.git_remote!r}",
                "add one (`git remote add origin URL`; a path works when every node is on this machine), "
                "or name another with --git-remote",
            ) from None
        if "://" not in url and ":" not in url.split("/")[0] and not os.path.isabs(url):
            url = str((self.repo.root / url).resolve())  # a relative path means nothing on a node
        return url

    def data_remote(self) -> tuple[str, str]:
        name = self.repo.remotes.default()
        if not name:
            raise ClusterError(
                "the Ray executor needs a default cairn remote: the nodes pull the data from it and push the "
                "outputs to it",
                "add one with `cairn remote add -d NAME URL` (a location every node can reach)",
            )
        url = str(self.repo.remotes.list().get(name, {}).get("url") or "")
        if not url:
            raise ClusterError(f"the default cairn remote {name!r} has no url", f"`cairn remote add -f -d {name} URL`")
        if "://" not in url and not os.path.isabs(os.path.expanduser(url)):
            # relative to the repository root, as every cairn command reads it (repo/remotes.py);
            # on a node, whose run folder is elsewhere, the same text would name another folder
            url = str((self.repo.root / url).resolve())
        return name, url

    def check_remotes(self) -> None:
        self.git_url()
        self.data_remote()

    def prepare(self, entry: Entry) -> dict[str, Any]:
        """Make the baseline reachable (git ref, data on the cairn remote) and describe the task."""
        from cairn.scm.commits import transport_refs

        url = self.git_url()
        remote_name, remote_url = self.data_remote()
        ref = QUEUE_REFS + entry.baseline  # one per baseline: a sweep's runs share it
        try:
            if entry.baseline not in self._pushed_baselines:
                transport_refs(self.git, "push", self.git_remote, [f"+{entry.baseline}:{ref}"])
                self._queue_refs.add(ref)
                roots = commit_roots(self.git, entry.baseline)
                if roots:
                    self.repo.push(roots)  # only what the remote lacks moves
                self._pushed_baselines[entry.baseline] = bool(roots)
        except CairnError as e:
            raise ClusterError(f"cannot hand {entry.name!r} to the cluster: {e.message}", e.hint) from None
        except OSError as e:  # a remote the storage layer does not describe (a file where its folder is)
            raise ClusterError(
                f"cannot hand {entry.name!r} to the cluster: {e.strerror or e}: {e.filename or ''}".rstrip(": "),
                "check the default cairn remote (`cairn remote list`)",
            ) from None
        try:
            who = self.git.repo.default_signature
            user = {"user_name": who.name, "user_email": who.email}
        except (KeyError, ValueError):  # no identity configured: the node's own is used
            user = {}
        return {
            **user,
            "name": entry.name,
            "baseline": entry.baseline,
            "overrides": entry.overrides,
            "targets": entry.targets,
            "git_url": url,
            "queue_ref": ref,
            "remote_name": remote_name,
            "remote_url": remote_url,
            "pull": self._pushed_baselines[entry.baseline],  # nothing in the cairn remote: no pull
        }

    def collect(self, entry: Entry, result: dict[str, Any]) -> tuple[str, int | None, str | None]:
        """Fetch the result commit the node pushed; the outcome as the experiment records it."""
        from cairn.scm.commits import transport_refs

        ref = result["ref"]
        try:
            transport_refs(self.git, "fetch", self.git_remote, [f"+{ref}:{ref}"])
        except CairnError as e:
            raise ClusterError(f"the result of {entry.name!r} could not be fetched: {e.message}", e.hint) from None
        idx = self.ctx.index()
        try:
            info = next((i for i in idx.all() if i.ref == ref), None)
        finally:
            idx.close()
        if info is None:
            return "failed", None, f"the result commit {result['commit'][:7]} holds no experiment record"
        return info.status, info.exit_code, info.error

    # -- the driver ------------------------------------------------------------------------------
    def start_worker(self, address: str, jobs: int, max_retries: int) -> int:
        """Run the driver in a background process once it has checked the cluster (reachable,
        able to hold every queued request) and the remotes; returns its pid. The driver makes
        the checks (one import of Ray and one connection, not one here and one there): it
        reports through a pipe, and an error there is raised here."""
        from cairn.cluster import driver

        q = self.ctx.queue()
        try:
            pid, _ = q.worker()
            if running(pid):
                raise UserInputError(f"a queue worker is already running (pid {pid})", "see `cairn queue status`")
            queued = any(e.status == "queued" for e in q.entries())
        finally:
            q.close()
        if not queued:
            raise UserInputError("nothing is queued", "queue experiments with `cairn exp run --queue -S KEY=VALUE`")
        # not installed: said before anything else. Only looked up here: the driver imports Ray
        # (seconds on a loaded machine) and checks the remotes, and reports through the pipe
        driver.need_ray()
        log = self.ctx.state / "queue" / "worker.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        ready_r, ready_w = os.pipe()
        cmd = [sys.executable, "-m", "cairn", "queue", "worker", "--executor", "ray", "--address", address]
        cmd += ["-j", str(jobs), "--max-retries", str(max_retries), "--git-remote", self.git_remote]
        cmd += ["--ready-fd", str(ready_w)]
        try:
            with open(log, "ab") as out:
                proc = subprocess.Popen(
                    cmd,
                    cwd=self.repo.root,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    pass_fds=(ready_w,),
                )
        finally:
            os.close(ready_w)
        with os.fdopen(ready_r, "rb") as ready:
            # until the driver writes its verdict and closes its end; bounded, as connecting is
            if not select.select([ready], [], [], _READY_TIMEOUT)[0]:
                os.killpg(proc.pid, signal.SIGTERM)
                raise ClusterUnreachableError(
                    f"the Ray driver did not connect to {address} within {_READY_TIMEOUT:.0f} s",
                    f"check the cluster (`ray status`); the driver's output is in {log}",
                )
            report = ready.read()
        if report.strip() != b"ok":
            proc.wait(30)
            raise _reported_error(report, log)
        return proc.pid

    def worker_loop(self, address: str, jobs: int, max_retries: int, ready_fd: int | None = None) -> dict[str, str]:
        """The driver: connects, checks that every queued request fits some node (reporting to
        `queue start` through `ready_fd`), then runs until nothing is queued (or `queue stop`).
        Entries a previous driver left running were marked failed when it died (Ray ends a dead
        driver's tasks); a result a node pushed before that is fetched and recorded here."""
        from cairn.cluster import driver

        self._set_worker(os.getpid())
        try:
            try:
                driver.import_ray()  # installed but broken: said before the remotes' errors
                self.check_remotes()
                ray = driver.connect(address)
                try:
                    self._check_queued(ray)
                except BaseException:
                    ray.shutdown()
                    raise
            except CairnError as e:
                _report(ready_fd, json.dumps({"class": type(e).__name__, "message": e.message, "hint": e.hint}))
                raise
            _report(ready_fd, "ok")
            try:
                self.reattach()
                results = driver.run_queue(self.ctx, ray, jobs, max_retries, self.prepare, self.collect, self._stopping)
            finally:
                ray.shutdown()
            self._drop_queue_refs()
            return results
        finally:
            self._set_worker(None)

    def _check_queued(self, ray) -> None:
        from cairn.cluster import driver

        q = self.ctx.queue()
        try:
            queued = [e for e in q.entries() if e.status == "queued"]
        finally:
            q.close()
        nodes = driver.alive_nodes(ray)
        for entry in queued:
            why = driver.check_fits(ray, entry, nodes)
            if why is not None:
                raise ClusterError(
                    f"cannot run {entry.name!r}: {why}",
                    "queue it again with a smaller --resources, or add a node that has them (`ray start`)",
                )

    def _drop_queue_refs(self) -> None:
        """The baselines' refs were only a way to the nodes: deleted in one push at the end."""
        from cairn.scm.commits import transport_refs

        if self._queue_refs:
            try:
                transport_refs(self.git, "push", self.git_remote, [f":{ref}" for ref in sorted(self._queue_refs)])
            except CairnError:
                pass  # left behind, they cost a ref each; the next run's push replaces them

    def reattach(self) -> list[str]:
        """Entries of a driver that died: those whose result reached the git remote are recorded
        from it; the others stay failed, with the reason saying their driver died."""
        from cairn.experiments.record import ref_name
        from cairn.scm.commits import transport_refs

        q = self.ctx.queue()
        try:
            lost = [e for e in q.entries() if e.executor and e.status == "failed" and "driver" in (e.error or "")]
        finally:
            q.close()
        found = []
        for entry in lost:
            ref = ref_name(entry.baseline, entry.name)
            try:
                transport_refs(self.git, "fetch", self.git_remote, [f"+{ref}:{ref}"])
                status, code, error = self.collect(entry, {"ref": ref, "commit": ""})
            except CairnError:
                continue  # never pushed: it stays failed, and says why
            q = self.ctx.queue()
            try:
                q.db.execute(
                    "UPDATE queue SET status = ?, exit_code = ?, error = ? WHERE name = ?",
                    (status, code, error, entry.name),
                )
            finally:
                q.close()
            found.append(entry.name)
        return found

    def _stopping(self) -> bool:
        q = self.ctx.queue()
        try:
            return q.worker()[1]
        finally:
            q.close()

    def _set_worker(self, pid: int | None) -> None:
        q = self.ctx.queue()
        try:
            q.set_worker(pid)
        finally:
            q.close()

    def kill(self, entry: Entry) -> None:
        """`queue kill` of a cluster run: recorded as killed here; the driver sees it and cancels
        the Ray task, which stops the run's stage processes on its node."""
        q = self.ctx.queue()
        try:
            q.finish(entry.name, "killed", None, "killed with `cairn queue kill`")
        finally:
            q.close()


def stop_runners(address: str) -> list[str]:
    """`queue stop --runners`: stop the long-lived runner each node keeps between drivers (Ray's
    `ray stop` stops them too). Runs going on on them are lost with them."""
    from cairn.cluster import driver

    ray = driver.connect(address)
    try:
        return driver.stop_runners(ray)
    finally:
        ray.shutdown()


def _report(fd: int | None, text: str) -> None:
    if fd is None:
        return
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _reported_error(report: bytes, log: Path) -> CairnError:
    """The driver's error, as the class it raised; a driver that died without a word says where
    its log is."""
    from cairn import errors

    try:
        doc = json.loads(report)
        cls = getattr(errors, doc["class"])
        if isinstance(cls, type) and issubclass(cls, CairnError):
            return cls(doc["message"], doc.get("hint"))
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    return ClusterError(
        "the Ray driver stopped before it was ready", f"its output is in {log} (the last lines say why)"
    )
