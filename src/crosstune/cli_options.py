"""The command line's one convention, shared by every command.

- A model is always named by `--model` (lm-eval's spelling); what a command works on (a spec, a
  run folder, score tables) is positional (inspect's `eval TASK`).
- An option that takes several values takes them after one flag (`--rewards a.csv b.csv`), as a
  glob (`--rewards 'scores/*.csv'`), or repeated (`--rewards a.csv --rewards b.csv`).
- An old spelling keeps working for one release; the command says so in one line on stderr when
  it has finished (a failing command still says only what went wrong, in one line).
"""

from __future__ import annotations

import glob
from pathlib import Path

from typer._click import Context
from typer.core import TyperCommand

from crosstune.errors import CrosstuneError

deprecations: list[str] = []
"""Old spellings used by this command, said once it has finished."""


class ManyValues(TyperCommand):
    """A command whose repeatable options also take every value up to the next option.

    Only for commands without positional arguments: there a bare word after the last value
    could only be another value (before, it was refused as an unexpected extra argument)."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if not any(p.param_type_name == "argument" for p in self.params):
            greedy = {name for p in self.params if p.param_type_name == "option" and p.multiple
                      for name in p.opts}
            args = spread(args, greedy)
        return super().parse_args(ctx, args)


def spread(args: list[str], greedy: set[str]) -> list[str]:
    """`--x a b --y c` -> `--x a --x b --y c` for options in `greedy`; `--` ends the options."""
    out: list[str] = []
    option, first = None, False
    for i, token in enumerate(args):
        if token == "--":
            return out + args[i:]
        if token.startswith("-"):
            name, equals, _ = token.partition("=")
            option, first = (name if name in greedy else None), not equals
        elif option is not None and not first:
            out.append(option)
        else:
            first = False
        out.append(token)
    return out


def files(given: list[Path] | None, option: str) -> list[Path]:
    """Paths as given, with glob patterns (quoted, or from a shell that does not expand them)
    expanded in sorted order; a pattern that matches nothing is an error naming it."""
    out: list[Path] = []
    for path in given or []:
        if path.exists() or not glob.has_magic(str(path)):
            out.append(path)
            continue
        matches = sorted(glob.glob(str(path)))
        if not matches:
            raise CrosstuneError(f"{option} {path}: no file matches")
        out += map(Path, matches)
    return out


def one_model(option: str | None, positional: str | None, command: str) -> str:
    """The model of a command that once took it positionally: `--model X`, or the old `X`."""
    if option is not None and positional is not None:
        raise CrosstuneError(f"name the model once: '{command} --model {option}'")
    if positional is not None:
        deprecations.append(f"'{command} MODEL' is deprecated: write '{command} --model MODEL' "
                            "(the old spelling goes in the next release)")
        return positional
    if option is None:
        raise CrosstuneError(f"Missing option '--model' (see '{command} --help')")
    return option
