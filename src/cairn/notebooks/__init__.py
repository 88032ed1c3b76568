"""Jupyter notebooks: the clean filter and git setup for readable diffs and merges (nbdime),
executing a notebook as a pipeline stage (papermill), cell-by-cell diffs and offline HTML export.

papermill, nbdime, nbformat and nbconvert come with the `cairn[notebooks]` extra and are imported
only by the modules that use them; `clean` needs nothing beyond the standard library, since git
runs it once per notebook it looks at."""
