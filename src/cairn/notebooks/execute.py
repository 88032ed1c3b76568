"""Execute a notebook with papermill, as a pipeline stage does (`cairn notebooks run`): the
stage's params are injected after the cell tagged `parameters`, and the executed notebook, with
its outputs, is written where the stage declares it.

Problems are found before a kernel starts where that is possible (an invalid .ipynb, a kernel
that is not installed, params with no `parameters` cell), so that they come back as one clear
error instead of a kernel traceback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairn.errors import MissingDependencyError, NotebookError, NotebookFailedError, NotebookKernelError, shown

PARAMETERS_TAG = "parameters"  # papermill's rule: the injected cell goes right after this one
INJECTED_TAG = "injected-parameters"
DEFAULT_KERNEL = "python3"


@dataclass
class Executed:
    notebook: str
    out: str
    kernel: str
    cells: int  # code cells run
    parameters: dict[str, Any]


def read(path: Path, label: str | None = None):
    """The notebook at `path` as an nbformat node (v4), validated."""
    nbformat = _need("nbformat")
    label = label or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotebookError(
            f"there is no notebook {shown(label)}", "check the path (it is relative to the stage's wdir)"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise NotebookError(f"cannot read notebook {shown(label)}: {e}", "check the file") from None
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as e:  # nbformat raises NotJSONError, ValidationError, KeyError... for bad files
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise NotebookError(
            f"{shown(label)} is not a valid Jupyter notebook: {first[:200]}",
            "open and save it in Jupyter, or restore it from git (`git checkout -- FILE`); "
            "a merge conflict left in the JSON is the usual cause",
        ) from None
    return nb


def params_from(specs: list[str], base: Path) -> dict[str, Any]:
    """Parameters to inject from `FILE` (every top-level key) or `FILE:a,b.c` specs: a dotted key
    becomes a variable with underscores (`train.lr` -> `train_lr`): notebook variables are
    Python names."""
    from cairn.pipelines import params as params_mod

    out: dict[str, Any] = {}
    for spec in specs:
        file, _, keys = spec.partition(":")
        doc = params_mod.read(base / file, file)
        if not keys:
            out.update(doc)
            continue
        for key in keys.split(","):
            try:
                out[key.replace(".", "_")] = params_mod.lookup(doc, key)
            except KeyError:
                raise NotebookError(
                    f"{file} has no key {key!r}", f"add it to {file} or remove it from the stage's params"
                ) from None
    return out


def run(
    notebook: Path,
    out: Path,
    parameters: dict[str, Any],
    kernel: str | None = None,
    label: str = "",
    out_label: str = "",
) -> Executed:
    """Execute `notebook` into `out` in the notebook's own folder (as Jupyter runs it). On a
    failing cell the partial executed notebook stays at `out` for inspection."""
    label = label or str(notebook)
    nb = read(notebook, label)
    name = kernel or (nb.metadata.get("kernelspec") or {}).get("name") or DEFAULT_KERNEL
    argv = _check_kernel(name, label)
    # ipykernel warns on every start that its TCP ports are unencrypted, and jupyter_client's
    # shutdown interrupts the kernel first (SIGINT), which ipykernel, when the signal lands in its
    # message loop, logs as "ERROR | KeyboardInterrupt caught in kernel": noise in a stage's log.
    # A failing cell or a dead kernel reaches papermill as a message, not through this log.
    quiet = ["--IPKernelApp.log_level=CRITICAL"] if any("ipykernel" in a for a in argv) else []
    at = next((i for i, c in enumerate(nb.cells) if PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])), None)
    if parameters and at is None:
        raise NotebookError(
            f"{shown(label)} has no cell tagged `parameters`, so the stage's params "
            f"({', '.join(sorted(parameters))}) have nowhere to go",
            "papermill injects params in a new cell right after the cell tagged `parameters`, overriding the "
            "defaults set there: give the cell that sets them that tag (JupyterLab: Property Inspector > "
            "Cell Tags; Notebook 7: the cell's tag toolbar), or drop `params:` from the stage",
        )
    papermill = _need("papermill")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            str(notebook),
            str(out),
            parameters=parameters,
            kernel_name=name,
            progress_bar=False,
            log_output=False,
            cwd=str(notebook.parent),
            extra_arguments=quiet,
        )
    except papermill.PapermillExecutionError as e:
        # papermill counts the injected cell; the user's notebook does not have it
        position = e.cell_index - (1 if parameters and at is not None and e.cell_index > at else 0) + 1
        raise NotebookFailedError(
            f"notebook {shown(label)} failed in cell {position} (In [{e.exec_count}]): {e.ename}: {e.evalue}",
            f"the executed notebook, with the error under that cell, is kept at {out_label or out} for inspection "
            "(it is not cached as a result); fix the cell and run again",
        ) from None
    except Exception as e:  # nbclient: the kernel died (out of memory, a cell calling exit) or never answered
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise NotebookFailedError(
            f"notebook {shown(label)} stopped: {type(e).__name__}: {first}",
            f"its kernel died or did not answer (out of memory? a cell that exits?); what ran is kept at "
            f"{out_label or out} for inspection (not cached as a result)",
        ) from None
    cells = sum(1 for c in nb.cells if c.cell_type == "code") + (1 if parameters else 0)
    return Executed(label, out_label or str(out), name, cells, parameters)


def _check_kernel(name: str, label: str) -> list[str]:
    """The kernel's command line; NotebookKernelError when it is not installed."""
    _need("ipykernel" if name == DEFAULT_KERNEL else "jupyter_client")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager()
    try:
        return list(manager.get_kernel_spec(name).argv)
    except NoSuchKernel:
        installed = sorted(manager.find_kernel_specs())
        raise NotebookKernelError(
            f"{shown(label)} runs on the Jupyter kernel {name!r}, which is not installed here "
            f"(installed: {', '.join(installed) or 'none'})",
            f"install it into the environment cairn runs in; for a Python environment: "
            f"`python -m ipykernel install --sys-prefix --name {name}` (`jupyter kernelspec list` shows them), "
            "or choose an installed kernel with `kernel:` in the stage's notebook settings",
        ) from None


def _need(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"running notebooks needs {module}, which is not installed",
            "pip install 'cairn[notebooks]' (papermill, nbdime and ipykernel)",
        ) from None
