"""Params, metrics and plots across git revisions and the workspace.

Files at a revision are read in process (pygit2 blobs, or the cache through that revision's
cairn.lock or pointer files); nothing is checked out. Parsed files are cached by blob or object
id, so a history of 50 commits that share most files parses each distinct file once.

- revisions: which revisions a command looks at (workspace, --rev, -A, -T, -n N)
- reader: one snapshot per revision: its cairn.yaml, cairn.lock, and files by path
- formats: json / yaml / toml / csv / tsv parsing with positioned syntax errors
- values: params diff, metrics show / diff / trend
- plots, vega, html, render: Vega-Lite charts, the self-contained page, PNG images
"""
