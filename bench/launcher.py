"""Tiny launcher that times one command: `python -S -I launcher.py RESULT_FILE ARGV...`.

measure.py starts the timed command through this small process rather than directly: on Linux
the ru_maxrss that wait4() reports for a child includes the memory image the child had *before*
exec, i.e. a copy of whoever forked it (the bench process itself is 70+ MiB after generating
data). Forked from this ~8 MiB launcher instead, peak RSS is exact for any tool above that.

It writes "wall_s maxrss_kib utime_s stime_s exit_code" to RESULT_FILE. Standard library only,
and as few imports as possible to keep its own footprint small.
"""

import os
import sys
import time


def main() -> int:
    result, argv = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    try:
        pid = os.posix_spawnp(argv[0], argv, os.environ)
    except OSError as exc:
        print(f"launcher: cannot start {argv[0]}: {exc}", file=sys.stderr)
        code, wall, rss, utime, stime = 127, 0.0, 0, 0.0, 0.0
    else:
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        rss, utime, stime = usage.ru_maxrss, usage.ru_utime, usage.ru_stime
    with open(result, "w") as fh:
        fh.write(f"{wall!r} {rss} {utime!r} {stime!r} {code}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
