"""cairn.yaml: stages (cmd, deps, params, outs, metrics, plots, wdir, desc, frozen,
always_changed), foreach / matrix generation and `${...}` interpolation from `vars` and params.

Validation collects every problem with its file, line and column before failing, and says
what to write instead."""

from __future__ import annotations

import itertools
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.errors import PipelineError, shown
from cairn.pipelines import params as params_mod
from cairn.pipelines.yamlfile import Located, load

PIPELINE_FILE = "cairn.yaml"
SPEC_VERSION = 1
TOP_KEYS = {"version", "stages", "vars", "params", "metrics", "plots"}
# sections other packages read and validate themselves (cairn.checks, cairn.registry)
TOP_KEYS |= {"checks", "artifacts"}
TOP_KEYS |= {"schema", "monitors"}  # cairn.datastats
STAGE_KEYS = {"cmd", "deps", "params", "outs", "metrics", "plots", "wdir", "desc", "frozen", "always_changed", "meta"}
STAGE_KEYS.add("env")  # warn | strict: whether a changed environment makes the stage stale
STAGE_KEYS.add("notebook")  # instead of cmd: execute a Jupyter notebook (pipelines/notebookstage.py)
GEN_KEYS = {"foreach", "do", "matrix"}
OUT_FLAGS = {"cache", "persist", "desc", "remote"}
PLOT_PROPS = {"x", "y", "title", "template", "x_label", "y_label"}
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_VAR = re.compile(r"(?<!\\)\$\{\s*([^}]*?)\s*\}")


@dataclass
class Out:
    path: str  # repo-relative
    kind: str = "outs"  # outs | metrics | plots
    cache: bool = True
    persist: bool = False
    desc: str | None = None
    props: dict[str, Any] = field(default_factory=dict)  # plot settings


@dataclass
class ParamRef:
    file: str  # repo-relative
    keys: list[str] | None  # None: every key in the file


@dataclass
class Stage:
    name: str
    cmd: list[str]
    wdir: str = ""  # repo-relative; "" is the root
    deps: list[str] = field(default_factory=list)  # repo-relative
    params: list[ParamRef] = field(default_factory=list)
    outs: list[Out] = field(default_factory=list)
    desc: str | None = None
    frozen: bool = False
    always_changed: bool = False
    env_strict: bool = False  # `env: strict`: a changed environment makes the stage stale
    where: str = ""


@dataclass
class Pipeline:
    stages: dict[str, Stage] = field(default_factory=dict)
    params: list[str] = field(default_factory=list)  # top-level params files (repo-relative)
    metrics: list[str] = field(default_factory=list)
    plots: list[Out] = field(default_factory=list)

    def stage(self, name: str) -> Stage:
        if name not in self.stages:
            names = list(dict.fromkeys([*self.stages, *self.groups()]))
            near = _close_matches(name, names, n=1)
            raise PipelineError(
                f"there is no stage named {name!r} in {PIPELINE_FILE}",
                f"did you mean {near[0]!r}?" if near else f"stages: {', '.join(self.stages) or 'none'}",
            )
        return self.stages[name]

    def groups(self) -> dict[str, list[str]]:
        """foreach / matrix name -> the stages it generates (`train` -> train@small, train@large)."""
        out: dict[str, list[str]] = {}
        for name in self.stages:
            if "@" in name:  # names in cairn.yaml cannot hold '@': only generated ones do
                out.setdefault(name.partition("@")[0], []).append(name)
        return out

    def expand(self, targets: list[str]) -> list[str]:
        """Stage names for command-line targets: a stage's own name, or the name of a foreach /
        matrix stage for every stage it generates (as in DVC). Unknown names fail with a
        suggestion."""
        groups = self.groups()
        out: list[str] = []
        for target in targets:
            if target not in self.stages and target in groups:
                out.extend(groups[target])
            else:
                out.append(self.stage(target).name)
        return list(dict.fromkeys(out))


class _Problems:
    def __init__(self, doc: Located) -> None:
        self.doc = doc
        self.items: list[str] = []

    def add(self, path: tuple, message: str) -> None:
        item = f"{self.doc.where(path)}: {message}"
        if item not in self.items:  # a foreach/matrix template would repeat it once per generated stage
            self.items.append(item)

    def raise_if_any(self) -> None:
        if self.items:
            n = len(self.items)
            raise PipelineError(
                f"{PIPELINE_FILE} has {n} problem{'s' if n > 1 else ''}:\n  " + "\n  ".join(self.items),
                "fix them and run the command again (see docs/pipelines.md for the format)",
                self.items,
            )


def load_pipeline(root: Path) -> Pipeline | None:
    """The pipeline in `root/cairn.yaml`, or None when there is none."""
    path = root / PIPELINE_FILE
    if not path.exists():
        return None
    doc = load(path, PIPELINE_FILE)
    return build(doc, root)


def build(doc: Located, root: Path) -> Pipeline:
    problems = _Problems(doc)
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        problems.add((), "the file must be a mapping with a `stages:` key")
        problems.raise_if_any()
    for key in data:
        if key not in TOP_KEYS:
            problems.add((key,), f"unknown top-level key {key!r}{_suggest(key, TOP_KEYS)}")
    version = data.get("version", SPEC_VERSION)
    if version != SPEC_VERSION:
        problems.add(("version",), f"format version {version!r} is not known to this cairn (it reads {SPEC_VERSION})")
    context = _context(data.get("vars"), root, problems)
    pipe = Pipeline()
    pipe.params = [_rel(p, "", ("params", i), problems) for i, p in enumerate(_list(data, "params", problems))]
    pipe.metrics = [_rel(p, "", ("metrics", i), problems) for i, p in enumerate(_list(data, "metrics", problems))]
    pipe.plots = [
        o
        for i, item in enumerate(_list(data, "plots", problems))
        if (o := _out(item, "plots", "", ("plots", i), problems))
    ]
    stages = data.get("stages") or {}
    if not isinstance(stages, dict):
        problems.add(("stages",), "`stages` must map stage names to stage definitions")
        stages = {}
    for name, body in stages.items():
        for gen_name, gen_body, item_ctx, at in _generate(str(name), body, context, problems):
            stage = _stage(gen_name, gen_body, item_ctx, at, problems, doc)
            if stage is not None:
                if stage.name in pipe.stages:
                    problems.add(("stages", name), f"stage {stage.name!r} is defined twice")
                pipe.stages[stage.name] = stage
    problems.raise_if_any()
    return pipe


# -- vars and interpolation --------------------------------------------------------------------
def _context(vars_spec: Any, root: Path, problems: _Problems) -> dict[str, Any]:
    context: dict[str, Any] = {}
    default = root / params_mod.DEFAULT_PARAMS
    if default.exists():
        context.update(params_mod.read(default, params_mod.DEFAULT_PARAMS))
    if vars_spec is None:
        return context
    if not isinstance(vars_spec, list):
        problems.add(("vars",), "`vars` must be a list of files and/or mappings")
        return context
    for i, entry in enumerate(vars_spec):
        if isinstance(entry, dict):
            context.update(entry)
        elif isinstance(entry, str):
            file, _, keys = entry.partition(":")
            try:
                loaded = params_mod.read(root / file, file)
            except PipelineError as e:
                problems.add(("vars", i), e.message)
                continue
            if keys:
                for key in keys.split(","):
                    try:
                        _set_dotted(context, key.strip(), params_mod.lookup(loaded, key.strip()))
                    except KeyError:
                        problems.add(("vars", i), f"{file} has no key {key.strip()!r}")
            else:
                context.update(loaded)
        else:
            problems.add(("vars", i), "a vars entry is a file name or a mapping")
    return context


def _set_dotted(context: dict[str, Any], key: str, value: Any) -> None:
    """Put `value` where `${key}` finds it: `model.name` goes under `model`, not into a key
    with a dot (which lookup, splitting on dots, could never reach)."""
    *parents, last = key.split(".")
    node = context
    for part in parents:
        # copy on the way down: nested mappings may be shared with a params file's data
        node[part] = dict(node[part]) if isinstance(node.get(part), dict) else {}
        node = node[part]
    node[last] = value


def interpolate(value: Any, context: dict[str, Any], path: tuple, problems: _Problems) -> Any:
    if isinstance(value, str):
        whole = _VAR.fullmatch(value)
        if whole:
            return _resolve(whole.group(1), context, path, problems)

        def sub(m: re.Match) -> str:
            v = _resolve(m.group(1), context, path, problems)
            if isinstance(v, (dict, list)):
                problems.add(path, f"${{{m.group(1)}}} is a {type(v).__name__}; only whole values can be one")
                return m.group(0)
            return str(v).lower() if isinstance(v, bool) else str(v)

        return _VAR.sub(sub, value).replace("\\${", "${")
    if isinstance(value, list):
        return [interpolate(v, context, (*path, i), problems) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: interpolate(v, context, (*path, k), problems) for k, v in value.items()}
    return value


def _resolve(expr: str, context: dict[str, Any], path: tuple, problems: _Problems) -> Any:
    try:
        return params_mod.lookup(context, expr)
    except KeyError:
        known = sorted(params_mod.flatten(context))
        near = _close_matches(expr, known, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else (f" (known: {', '.join(known[:8])})" if known else "")
        problems.add(path, f"cannot interpolate ${{{expr}}}: {expr!r} is not defined in vars or params.yaml{hint}")
        return ""


# -- foreach / matrix ----------------------------------------------------------------------------
def _generate(
    name: str, body: Any, context: dict[str, Any], problems: _Problems
) -> Iterator[tuple[str, Any, dict[str, Any], tuple]]:
    """(stage name, stage body, interpolation context, key path of the body in the document)."""
    # positions are looked up by key path from the document root: stages live under `stages`,
    # and the body of a foreach stage under its `do`
    at = ("stages", name)
    if not _NAME.match(name):
        problems.add(at, f"stage name {name!r} may hold only letters, digits, '_', '-' and '.'")
        return
    if not isinstance(body, dict):
        problems.add(at, "a stage is a mapping with at least `cmd`")
        return
    if "foreach" in body:
        extra = set(body) - {"foreach", "do"}
        if extra or "do" not in body:
            problems.add(at, "a foreach stage has exactly two keys: `foreach` (the items) and `do` (the stage)")
            return
        items = interpolate(body["foreach"], context, (*at, "foreach"), problems)
        if isinstance(items, dict):
            pairs = [(str(k), {"key": k, "item": v}) for k, v in items.items()]
        elif isinstance(items, list):
            pairs = [
                (str(i) if isinstance(v, (dict, list)) else str(v), {"key": i, "item": v}) for i, v in enumerate(items)
            ]
        else:
            problems.add((*at, "foreach"), "foreach takes a list or a mapping")
            return
        for suffix, extra_ctx in pairs:
            yield f"{name}@{suffix}", body["do"], {**context, **extra_ctx}, (*at, "do")
        return
    if "matrix" in body:
        matrix = interpolate(body["matrix"], context, (*at, "matrix"), problems)
        if not isinstance(matrix, dict) or not all(isinstance(v, list) and v for v in matrix.values()):
            problems.add((*at, "matrix"), "matrix maps names to non-empty lists of values")
            return
        template = {k: v for k, v in body.items() if k != "matrix"}
        keys = list(matrix)
        for combo in itertools.product(*(matrix[k] for k in keys)):
            item = dict(zip(keys, combo, strict=True))
            suffix = "-".join(str(v) for v in combo)
            yield f"{name}@{suffix}", template, {**context, "item": item}, at
        return
    yield name, body, context, at


# -- one stage -----------------------------------------------------------------------------------
def _stage(name: str, body: Any, context: dict, path: tuple, problems: _Problems, doc: Located) -> Stage | None:
    if not isinstance(body, dict):
        problems.add(path, "a stage is a mapping with at least `cmd`")
        return None
    for key in body:
        if key not in STAGE_KEYS:
            problems.add((*path, key), f"unknown stage key {key!r}{_suggest(key, STAGE_KEYS | GEN_KEYS)}")
    body = interpolate(body, context, path, problems)
    cmd = body.get("cmd")
    if "notebook" in body:  # its command is built once params are read (below)
        cmds = []
    elif isinstance(cmd, str) and cmd.strip():
        cmds = [cmd]
    elif isinstance(cmd, list) and cmd and all(isinstance(c, str) and c.strip() for c in cmd):
        cmds = list(cmd)
    else:
        problems.add(
            (*path, "cmd") if "cmd" in body else path, f"stage {name!r} needs `cmd`: a command or a list of commands"
        )
        cmds = []
    wdir_raw = body.get("wdir", ".")
    wdir = _rel(wdir_raw, "", (*path, "wdir"), problems) if isinstance(wdir_raw, str) else ""
    if wdir == ".":
        wdir = ""
    stage = Stage(name, cmds, wdir, where=doc.where(path))
    for flag in ("frozen", "always_changed"):
        value = body.get(flag, False)
        if not isinstance(value, bool):
            problems.add((*path, flag), f"`{flag}` is true or false")
        setattr(stage, flag, bool(value))
    env = body.get("env", "warn")
    if env not in ("warn", "strict"):
        problems.add((*path, "env"), "`env` is `warn` (the default: a changed environment is reported) or `strict`")
    stage.env_strict = env == "strict"
    desc = body.get("desc")
    stage.desc = str(desc) if desc is not None else None
    for i, dep in enumerate(_list(body, "deps", problems, path)):
        if isinstance(dep, str):
            stage.deps.append(_rel(dep, wdir, (*path, "deps", i), problems))
        else:
            problems.add((*path, "deps", i), "a dependency is a path (a string)")
    stage.params = _params(body, wdir, path, problems)
    for kind in ("outs", "metrics", "plots"):
        for i, item in enumerate(_list(body, kind, problems, path)):
            out = _out(item, kind, wdir, (*path, kind, i), problems)
            if out is not None:
                stage.outs.append(out)
    if "notebook" in body:
        from cairn.pipelines.notebookstage import apply

        apply(stage, body, (*path, "notebook"), problems)
    return stage


def _params(body: dict, wdir: str, path: tuple, problems: _Problems) -> list[ParamRef]:
    by_file: dict[str, ParamRef] = {}
    default = _rel(params_mod.DEFAULT_PARAMS, wdir, path, problems)
    for i, entry in enumerate(_list(body, "params", problems, path)):
        where = (*path, "params", i)
        if isinstance(entry, str):
            ref = by_file.setdefault(default, ParamRef(default, []))
            if ref.keys is not None:
                ref.keys.append(entry)
        elif isinstance(entry, dict):
            for file, keys in entry.items():
                rel = _rel(str(file), wdir, where, problems)
                if keys is None or keys == []:
                    by_file[rel] = ParamRef(rel, None)
                elif isinstance(keys, list) and all(isinstance(k, str) for k in keys):
                    ref = by_file.setdefault(rel, ParamRef(rel, []))
                    if ref.keys is not None:
                        ref.keys.extend(keys)
                else:
                    problems.add(where, f"params of {file} are a list of keys (or empty for the whole file)")
        else:
            problems.add(where, "a params entry is a key of params.yaml or {file: [keys]}")
    return list(by_file.values())


def _out(item: Any, kind: str, wdir: str, where: tuple, problems: _Problems) -> Out | None:
    if isinstance(item, str):
        return Out(_out_path(item, wdir, where, problems), kind, cache=kind == "outs")
    if isinstance(item, dict) and len(item) == 1:
        ((p, flags),) = item.items()
        flags = flags or {}
        if not isinstance(flags, dict):
            problems.add(where, f"settings of {p} are a mapping, e.g. {{cache: false}}")
            return None
        allowed = OUT_FLAGS | (PLOT_PROPS if kind == "plots" else set())
        for k in flags:
            if k not in allowed:
                problems.add((*where, p, k), f"unknown setting {k!r} for {p}{_suggest(k, allowed)}")
        out = Out(
            _out_path(str(p), wdir, where, problems),
            kind,
            cache=bool(flags.get("cache", kind == "outs")),
            persist=bool(flags.get("persist", False)),
            desc=flags.get("desc"),
            props={k: v for k, v in flags.items() if k in PLOT_PROPS},
        )
        return out
    problems.add(where, f"an entry of `{kind}` is a path or {{path: {{cache: false, ...}}}}")
    return None


def _out_path(p: str, wdir: str, where: tuple, problems: _Problems) -> str:
    """An output's repo-relative path: checkout and the run-cache write there, so never into
    .git/ (its hooks run code) or .cairn/."""
    rel = _rel(p, wdir, where, problems)
    top = rel.partition("/")[0].lower()
    if not rel:
        problems.add(where, f"{shown(p)} is the repository itself; an output is a file or folder inside it")
    elif top in (".git", ".cairn"):
        problems.add(
            where, f"{shown(p)} is inside {top}/, which git or cairn manages itself; an output cannot go there"
        )
    return rel


def _list(body: dict, key: str, problems: _Problems, path: tuple = ()) -> list:
    value = body.get(key)
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [value]
    problems.add((*path, key), f"`{key}` must be a list")
    return []


def _rel(p: str, wdir: str, where: tuple, problems: _Problems) -> str:
    """Repo-relative path of `p` written relative to `wdir`; refuses paths leaving the repo."""
    if "\0" in p:
        problems.add(where, f"{shown(p)} holds a NUL character, which no path can hold")
        return p
    if posixpath.isabs(p):
        problems.add(where, f"{p!r} is an absolute path; write it relative to the stage's wdir")
        return p
    joined = posixpath.normpath(posixpath.join(wdir, p)) if wdir else posixpath.normpath(p)
    if joined == ".." or joined.startswith("../"):
        problems.add(where, f"{p!r} points outside the repository")
    return "" if joined == "." else joined


def _suggest(word: str, options: set[str]) -> str:
    near = _close_matches(str(word), sorted(options), n=1)
    return f" (did you mean {near[0]!r}?)" if near else f" (expected one of: {', '.join(sorted(options))})"


def _close_matches(word: str, options: list[str], n: int) -> list[str]:
    import difflib  # only when a name is wrong: ~1 ms of every command otherwise

    return difflib.get_close_matches(word, options, n=n)
