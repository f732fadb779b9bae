from ..reports import tracker  # noqa: F401  (fixture: what an error tracker records)
