"""Shared plumbing of pconvkit: user errors, safe file writing, the sample data."""

from pconvkit.errors import UserError

__all__ = ["UserError"]
