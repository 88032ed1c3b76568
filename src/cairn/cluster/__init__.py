"""Queued experiments on a Ray cluster: resource requests, the node-side task, the driver."""
