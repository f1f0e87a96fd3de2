"""`svit tokens`: records' lengths in a model family's tokens (docs/tokens.md)."""

from svit.tokens.families import FAMILIES
from svit.tokens.run import TokensResult, run_tokens
from svit.tokens.tokenizer import NAMED

__all__ = ["FAMILIES", "NAMED", "TokensResult", "run_tokens"]
