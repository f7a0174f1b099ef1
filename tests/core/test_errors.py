"""A missing optional part is named with the extra that installs it, in one line."""

import pytest

from pconvkit.errors import UserError, require_extra


def test_a_missing_extra_is_named_with_its_install_command():
    with pytest.raises(UserError) as caught:
        require_extra("the pictures", "report", "json", "surely_not_installed_module")
    assert str(caught.value) == (
        "the pictures needs the report extra: pip install 'pconvkit[report]' (surely_not_installed_module)"
    )


def test_present_modules_pass():
    require_extra("JSON", "none", "json", "csv")
