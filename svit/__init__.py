"""svit-warehouse: SVIT and LLaVA-1.5 instruction data as a queryable warehouse."""

# Part of every source's cache key (ingest/pipeline.py): a new version rereads the sources,
# so tables gain the columns a new version writes.
__version__ = "0.2.0"
