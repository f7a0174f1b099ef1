"""Shared plumbing of pconvkit: user errors, safe file writing, the sample data."""

from pconvkit.errors import UserError

__version__ = "0.3.0"
__all__ = ["UserError", "__version__"]
