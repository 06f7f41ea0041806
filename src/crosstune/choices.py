"""The closed sets of values a user picks from, in a module the command line can import cheaply.

Typer builds each option's choices from these Literals, and the library types its arguments with
the same ones, so a value the CLI accepts is one the library knows.
"""

from __future__ import annotations

from typing import Literal

FormatChoice = Literal["auto", "chat", "plain"]
"""How prompts are rendered: auto (instruct models chat, base models plain), chat or plain."""
MetricName = Literal["expected", "choice", "linear"]
Method = Literal["probability", "generate"]
"""Read the option probabilities, or generate an answer and parse it."""
Executor = Literal["local", "ray"]
Orient = Literal["auto", "biases-as-rows", "models-as-rows"]
Impute = Literal["none", "drop", "bias-mean", "zero"]
