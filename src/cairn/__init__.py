"""cairn: version control for machine-learning data, pipelines and experiments."""

__version__ = "0.1.0"
