import pytest
from django.core.exceptions import ValidationError

from tokens_site.paths import validate_path, validate_top_level_path


@pytest.mark.parametrize(
    "path", ["tanuki", "a", "A1", "my_project", "my-project", "v1.2", "9lives"]
)
def test_valid_paths(path):
    validate_path(path)


@pytest.mark.parametrize(
    "path",
    [
        "",
        "-leading",
        "_leading",
        ".hidden",
        "with space",
        "slash/inside",
        "ünïcode",
        "repo.git",
        "feed.atom",
        "REPO.GIT",
        "tab\tinside",
        "semi;colon",
        "..",
        "new\n",
    ],
)
def test_invalid_paths_say_what_to_fix(path):
    with pytest.raises(ValidationError) as raised:
        validate_path(path)
    assert "letters, digits" in raised.value.messages[0]


@pytest.mark.parametrize(
    "path", ["-", "api", "groups", "users", "admin", "Admin", "explore", "new"]
)
def test_reserved_top_level_paths(path):
    with pytest.raises(ValidationError, match="reserved"):
        validate_top_level_path(path)
