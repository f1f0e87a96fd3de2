"""svit-warehouse: SVIT and LLaVA-1.5 instruction data as a queryable warehouse."""

__version__ = "0.1.0"
