class UserError(Exception):
    """A mistake in the user's input: the CLI prints it as one line and exits non-zero."""


def require_extra(what: str, extra: str, *modules: str):
    """A one-line error naming the extra to install when one of `modules` is missing."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise UserError(f"{what} needs the {extra} extra: pip install 'pconvkit[{extra}]' ({', '.join(missing)})")
