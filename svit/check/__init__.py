"""`svit check`: will a model or mix train, and is it clean (docs/check.md)."""

from svit.check.rules import FAMILIES, RULES
from svit.check.run import CheckResult, check, summary_lines

__all__ = ["FAMILIES", "RULES", "CheckResult", "check", "summary_lines"]
