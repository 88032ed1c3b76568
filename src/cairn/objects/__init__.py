"""Content-addressed objects: hashing, the object store, tree objects and verification."""
