"""The documents a user reads say what the code does: the README's commands parse as written, the
files they name exist, and docs/reference.md is what the code generates."""

from __future__ import annotations

import re
import runpy
import shlex
from pathlib import Path

import pytest
import typer

from crosstune.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def readme_commands() -> list[str]:
    """Every command line of the README's bash blocks, continuation lines joined, comments cut."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    text = "\n".join(blocks).replace("\\\n", " ")
    lines = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            lines.append(shlex.join(words))
    return lines


def _command(words: list[str]):
    """The click command a `crosstune ...` line reaches, and the arguments left for it."""
    command = typer.main.get_command(app)
    while hasattr(command, "commands") and words and words[0] in command.commands:
        command, words = command.commands[words[0]], words[1:]
    return command, words


CROSSTUNE = [c for c in readme_commands() if c.startswith("crosstune ")]


def test_the_readme_shows_commands():
    assert len(CROSSTUNE) >= 10


@pytest.mark.parametrize("line", CROSSTUNE)
def test_every_readme_command_parses_as_written(line):
    command, rest = _command(shlex.split(line)[1:])
    assert not hasattr(command, "commands"), f"{line!r} names no command"
    command.make_context(line.split()[1], rest)   # raises on an unknown option or a bad value


@pytest.mark.parametrize("line", [c for c in readme_commands() if c.split()[0] in ("bash", "python3")
                                  and not c.startswith("python3 -m")])
def test_every_readme_script_exists(line):
    script = next(w for w in shlex.split(line)[1:] if not w.startswith("-"))
    assert (ROOT / script).is_file(), f"{line!r}: {script} does not exist"


def test_every_example_spec_the_readme_names_exists():
    for name in set(re.findall(r"examples/[\w.-]+\.toml", README.read_text())):
        assert (ROOT / name).is_file(), name


def test_the_settings_reference_is_what_the_code_generates():
    generator = runpy.run_path(str(ROOT / "scripts" / "make_reference.py"))
    assert (ROOT / "docs" / "reference.md").read_text() == generator["render"](), \
        "docs/reference.md is stale: run python3 scripts/make_reference.py"


def test_every_page_the_readme_links_exists():
    for target in re.findall(r"\]\(([^)#]+)\)", README.read_text()):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target


@pytest.mark.parametrize("spec", sorted((ROOT / "examples").glob("*.toml")), ids=lambda p: p.name)
def test_every_example_spec_reads(spec):
    from crosstune.experiment.spec import jobs, load_spec

    assert jobs(load_spec(spec))
