"""The command line lives in pconvkit/cli/ (installed as pconvkit.cli, entry points maskgen, benchmark, pconv)."""

from pconvkit.cli import benchmark, maskgen, pconv  # noqa: F401
