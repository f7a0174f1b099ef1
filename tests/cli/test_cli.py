"""The command-line package: each entry point loads only its own group."""


def test_each_entry_point_loads_only_its_own_group():
    import subprocess
    import sys

    for group, others in (("pconv", ("benchmark", "maskgen")), ("maskgen", ("benchmark", "pconv"))):
        code = f"import sys; from pconvkit.cli import {group}; print(sorted(sys.modules))"
        loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        for other in others:
            assert f"pconvkit.cli.{other}_commands" not in loaded
