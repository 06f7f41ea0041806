"""The `crosstune` command line: parse, call one library function, print."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from crosstune.choices import Executor, FormatChoice, Impute, Method, MetricName, Orient
from crosstune.cli_options import ManyValues, deprecations, files, one_model
from crosstune.errors import CrosstuneError, printable, terminal, validated
from crosstune.logs import configure as configure_logging
from crosstune.progress import InterruptLatch
from crosstune.records import EvalTiming, PositionPreference
from crosstune.store import LOG as LOG_NAME

if TYPE_CHECKING:
    import pandas as pd
    from pydantic import BaseModel

    from crosstune.probes.interface import ModelRequest, Probe, ProbeResult
    from crosstune.served.settings import ServedSettings

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Measure cognitive biases of language models and find where they come from.")
biases_app = typer.Typer(no_args_is_help=True, help="The bias suite.")
models_app = typer.Typer(no_args_is_help=True, help="Models crosstune can load.")
app.add_typer(biases_app, name="biases")
app.add_typer(models_app, name="models")
probe_app = typer.Typer(no_args_is_help=True, help="Probes of where a bias or value comes from.")
app.add_typer(probe_app, name="probe")
console = Console()
errors = Console(stderr=True, soft_wrap=True)
SERVED = "Served models (--model served:ID)"
BaseUrlOpt = Annotated[str | None, typer.Option(
    help="OpenAI-compatible base URL of served:ID models (or of a run folder's models, served "
    "under the names its spec gives them)", rich_help_panel=SERVED)]
EndpointOpt = Annotated[str, typer.Option(
    help="completions | chat-continue (vLLM) | chat", rich_help_panel=SERVED)]
TokenizerOpt = Annotated[str | None, typer.Option(
    help="completions: render with this tokenizer's chat template", rich_help_panel=SERVED)]
ApiKeyEnvOpt = Annotated[str | None, typer.Option(
    help="environment variable holding the API key", rich_help_panel=SERVED)]
ConcurrencyOpt = Annotated[int, typer.Option(help="requests in flight", rich_help_panel=SERVED)]
TopLogprobsOpt = Annotated[int, typer.Option(help="k next-token log-probabilities asked for",
                                             rich_help_panel=SERVED)]
RevisionOpt = Annotated[str | None, typer.Option(
    help="what identifies the weights when the server reports no fingerprint", rich_help_panel=SERVED)]
AdapterOpt = Annotated[str | None, typer.Option(help="PEFT adapter folder on top")]
FormatOpt = Annotated[FormatChoice, typer.Option(
    "--format", help="prompt rendering: auto (base models plain, instruct models chat) | chat | plain")]
DeviceOpt = Annotated[str | None, typer.Option(help="cpu, cuda, ...; default: best")]


@biases_app.command("list")
def biases_list() -> None:
    """List every bias with its scale and what the treatment changes."""
    from crosstune.suite.registry import all_biases

    every = all_biases()
    table = Table(show_lines=False)
    table.add_column("name", no_wrap=True, min_width=max(len(b.name) for b in every))
    table.add_column("options", no_wrap=True)
    table.add_column("source", overflow="fold")
    table.add_column("treatment differs by", overflow="fold")
    for b in every:
        table.add_row(b.name, str(b.n_options), b.source, b.manipulation)
    console.print(table)


@biases_app.command("show")
def biases_show(
    name: str,
    seed: Annotated[int, typer.Option(help="seed for the example pair")] = 0,
) -> None:
    """Describe one bias and print an example control/treatment pair."""
    from crosstune.suite.prompts import user_prompt
    from crosstune.suite.registry import get_bias

    bias = get_bias(name)
    pair = bias.generate(1, seed)[0]
    console.print(f"[bold]{bias.title}[/bold] ({bias.name}), {bias.source}")
    console.print(f"treatment differs by: {bias.manipulation}")
    console.print(f"a positive score means: {bias.positive_means}")
    console.print(f"metric: {pair.metric}")
    console.print(f"textbook answers: control {pair.control_options[pair.textbook[0]]!r}, "
                  f"treatment {pair.treatment_options[pair.textbook[1]]!r}", markup=False)
    if bias.zero_offset:
        console.print(f"[bold]zero point offset:[/bold] {bias.zero_offset}")
    console.print("each prompt is also shown with its options reversed (counterbalancing)\n")
    for side in ("control", "treatment"):
        console.rule(side)
        console.print(user_prompt(pair, side), markup=False)


@biases_app.command("validate", cls=ManyValues)
def biases_validate(
    biases: Annotated[list[str] | None, typer.Option(
        "--biases", help="bias names (several, or comma-separated); default: all")] = None,
    pairs: Annotated[int, typer.Option(help="pairs per bias")] = 20,
    seed: Annotated[int, typer.Option(help="seed for the pairs")] = 0,
    orders: Annotated[Literal[1, 2], typer.Option(help="2: both option orders; 1: balanced reversals")] = 2,
    metric: Annotated[MetricName, typer.Option(help="metric of the printed table")] = "expected",
    scenarios: Annotated[Path | None, typer.Option(help="scenario file, one per line")] = None,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="write respondent -> bias -> metric -> score here")] = None,
) -> None:
    """Run the known-answer respondents through the suite; exit 1 if an invariant fails."""
    import json

    from crosstune.store import ensure_file_writable, write_text
    from crosstune.validate import validate

    if json_out is not None:
        ensure_file_writable(json_out, "--json")
    result = validate(_names(biases, "--biases"), pairs, seed, orders, scenarios)
    frame = result.table(metric)
    shown = frame.map(lambda v: f"{round(v, 3) + 0.0:+.3f}")
    shown.index = [f"{bias} (offset)" if bias in result.offsets else bias for bias in frame.index]
    _print_frame(shown.rename_axis("bias").reset_index(),
                 f"known-answer respondents ({metric}, "
                 f"{'counterbalanced' if orders == 2 else 'one order'}, {pairs} pairs)", json_out)
    for bias, note in result.offsets.items():
        console.print(f"{bias} (offset): {note}")
    if json_out is not None:
        write_text(json_out, json.dumps(result.to_json(), indent=1))
    if result.failures:
        for failure in result.failures:
            errors.print(f"FAIL {failure}")
        raise typer.Exit(1)
    console.print("all invariants hold: unbiased respondents score 0, the textbook respondent "
                  "scores above 0 (above 0.3 on the expected ratio)")


@models_app.command("list")
def models_list() -> None:
    """The embedded models (offline) and the other kinds of model specification."""
    from crosstune.models.embedded import EMBEDDED, cached_folder

    table = Table("name", "prompt format", "description", "converted")
    for m in EMBEDDED.values():
        done = (cached_folder(m.name) / "crosstune-source.json").exists()
        table.add_row(m.name, m.prompt_format, m.description, "yes" if done else "on first use")
    console.print(table)
    console.print("Also accepted by --model: a Hugging Face hub id, a local model folder, "
                  "a PEFT adapter folder, or a .gguf file.")


class _RichProgress:
    """One rich progress display: a spinner for stages without a size, a bar for the rest."""

    def __init__(self, bar: Progress):
        self.bar = bar
        self.task: TaskID | None = None

    def stage(self, text: str, total: int | None = None) -> None:
        InterruptLatch.check()
        if self.task is not None:
            self.bar.update(self.task, completed=self.bar.tasks[self.task].total or 0)
        self.task = self.bar.add_task(terminal(text), total=total, status="")

    def advance(self, done: int) -> None:
        InterruptLatch.check()
        if self.task is not None:
            self.bar.update(self.task, advance=done, status="")

    def note(self, text: str) -> None:
        """A passing remark beside the bar (a served request being retried), until the next unit."""
        if self.task is not None:
            self.bar.update(self.task, status=terminal(text))


class _RateColumn(ProgressColumn):
    """Items per second (prompts, or requests to a served model)."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:.1f}/s" if task.speed else "", style="progress.data.speed")


def _progress_bar() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    MofNCompleteColumn(), _RateColumn(), TimeElapsedColumn(),
                    TextColumn("[yellow]{task.fields[status]}"), console=console)


@app.command("eval", cls=ManyValues)
def eval_command(
    model: Annotated[str, typer.Option(
        help="embedded name, hub id, folder, adapter, .gguf, or served:ID with --base-url")],
    biases: Annotated[list[str] | None, typer.Option(
        "--biases", help="bias names (several, or comma-separated); default: all")] = None,
    pairs: Annotated[int, typer.Option(help="control/treatment pairs per bias")] = 20,
    seed: Annotated[int, typer.Option(help="seed for pairs, option order, bootstrap")] = 0,
    method: Annotated[Method, typer.Option(help="read option probabilities, or generate and parse")
                      ] = "probability",
    metric: Annotated[MetricName, typer.Option(help="headline score")] = "expected",
    orders: Annotated[int, typer.Option(help="2: both option orders (default); 1: half reversed")] = 2,
    scenarios: Annotated[Path | None, typer.Option(help="scenario file, one per line")] = None,
    out: Annotated[Path | None, typer.Option(help="run folder; default runs/eval-MODEL")] = None,
    adapter: AdapterOpt = None, prompt_format: FormatOpt = "auto", device: DeviceOpt = None,
    trust_remote_code: Annotated[bool, typer.Option(
        help="run code shipped with a hub model (off: only do this for code you trust)")] = False,
    dtype: Annotated[str | None, typer.Option(help="float32 | bfloat16 (CPU: bf16 matmuls, faster "
                                              "only with AMX; see benchmarks/README.md)")] = None,
    base_url: Annotated[str | None, typer.Option(
        help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1", rich_help_panel=SERVED)] = None,
    endpoint: Annotated[str, typer.Option(
        help="completions | chat | chat-continue (vLLM: the cue as a partial assistant turn)",
        rich_help_panel=SERVED)] = "completions",
    tokenizer: Annotated[str | None, typer.Option(
        help="completions: render with this tokenizer's chat template (embedded name, folder, "
        "hub id); default plain", rich_help_panel=SERVED)] = None,
    api_key_env: Annotated[str | None, typer.Option(
        help="environment variable holding the API key", rich_help_panel=SERVED)] = None,
    concurrency: Annotated[int, typer.Option(help="requests in flight", rich_help_panel=SERVED)] = 8,
    timeout: Annotated[float, typer.Option(help="seconds per request", rich_help_panel=SERVED)] = 60.0,
    retries: Annotated[int, typer.Option(help="retries on 429, 5xx, timeouts",
                                         rich_help_panel=SERVED)] = 5,
    top_logprobs: Annotated[int, typer.Option(help="k next-token log-probabilities asked for",
                                              rich_help_panel=SERVED)] = 20,
    revision: Annotated[str | None, typer.Option(
        help="what identifies the weights when the server reports no fingerprint",
        rich_help_panel=SERVED)] = None,
    fallback: Annotated[bool, typer.Option(
        help="generate and parse when the server gives no log-probabilities",
        rich_help_panel=SERVED)] = True,
) -> None:
    """Measure every selected bias on one model and write a run folder."""
    from crosstune.evaluate import evaluate_model, make_config
    from crosstune.served import served_settings
    from crosstune.store import BIASES

    config = make_config(biases=_names(biases, "--biases"), pairs=pairs, seed=seed, method=method,
                         metric=metric, orders=orders, scenarios=scenarios)
    served = served_settings(model, base_url, endpoint=endpoint, tokenizer=tokenizer,
                             api_key_env=api_key_env, concurrency=concurrency, timeout=timeout,
                             retries=retries, top_logprobs=top_logprobs, revision=revision,
                             fallback=fallback)
    if served is not None and (adapter or device or dtype or trust_remote_code or prompt_format != "auto"):
        raise CrosstuneError("--adapter, --device, --dtype, --trust-remote-code and --format apply to "
                             "local models; a served model's server decides them")
    with _progress_bar() as bar:
        result, folder = evaluate_model(model, config, out, adapter=adapter,
                                        prompt_format=prompt_format, device=device, dtype=dtype,
                                        trust_remote_code=trust_remote_code, served=served,
                                        progress=_RichProgress(bar))
    _print_summary(result.summary, metric, folder / BIASES)
    _print_position(result.manifest.position_preference)
    timing = result.manifest.timing_s or EvalTiming()
    console.print(f"results: {terminal(folder)}  "
                  f"(load {timing.load:.1f}s, evaluate {timing.evaluate:.1f}s)")


def _names(items: list[str] | None, option: str) -> list[str] | None:
    """Repeated or comma-separated names; None when not given, an error when given but empty."""
    if items is None:
        return None
    names = [n.strip() for item in items for n in item.split(",") if n.strip()]
    if not names:
        raise CrosstuneError(f"{option} was given but names nothing; leave it out for all")
    return names


def _print_summary(summary, metric: str, full: Path) -> None:
    import pandas as pd

    rows = [{"bias": row.bias, "n": str(row.n_scored), f"score ({metric})": f"{row.score:+.3f}",
             "95% CI": f"[{row.ci_low:+.3f}, {row.ci_high:+.3f}]", "p": f"{row.p_value:.3g}",
             "position effect": f"{row.position_effect:+.3f}", "valid mass": f"{row.valid_mass:.2f}",
             "parse fail": f"{row.parse_failure_rate:.0%}",
             "reads content": _share(getattr(row, "content_share", float("nan")))}
            for row in summary.itertuples()]
    _print_frame(pd.DataFrame(rows), "", full)


def _share(value: float) -> str:
    """A share of pairs as a percentage; 'n/a' where it was not measured (one order)."""
    return "n/a" if value != value else f"{value:.0%}"


def _print_position(position: PositionPreference) -> None:
    if position.p_first is None:
        return
    console.print(f"position preference: P(first letter) {position.p_first:.3f}, "
                  f"P(last letter) {position.p_last:.3f}, uniform {position.p_uniform:.3f}"
                  "; counterbalancing cancels it (position effect: half the gap between the "
                  "two orders' scores)")


@app.command("analyze")
def analyze_command(
    inputs: Annotated[list[Path], typer.Argument(help="a scores CSV, or crosstune run folders")],
    labels: Annotated[Path | None, typer.Option(help="factor labels per model (CSV or TOML)")] = None,
    rule: Annotated[list[str] | None, typer.Option(
        help="label rule factor=REGEX on model names (repeatable)")] = None,
    exclude: Annotated[list[str] | None, typer.Option(
        help="rows that are not biases, e.g. a task accuracy (case-insensitive, repeatable)")] = None,
    drop: Annotated[list[str] | None, typer.Option(
        help="models to leave out, e.g. released models in no cell (case-insensitive, repeatable)")] = None,
    orient: Annotated[Orient, typer.Option(help="which way a scores table lies")] = "auto",
    impute: Annotated[Impute, typer.Option(help="missing scores")] = "none",
    permutations: Annotated[int, typer.Option(help="permutations per p-value")] = 999,
    standardize: Annotated[bool, typer.Option(help="z-score each bias before clustering")] = False,
    seed: Annotated[int, typer.Option()] = 0,
    out: Annotated[Path, typer.Option(help="folder for tables, JSON and report")] = Path("runs/analysis"),
    html: Annotated[bool, typer.Option(help="also write report.html")] = True,
    reference: Annotated[list[str] | None, typer.Option(
        help="BACKBONE=MODEL: MODEL is that backbone's reference (released or untuned), in no test; "
        "its seeds are compared with it (repeatable)")] = None,
    band: Annotated[float | None, typer.Option(
        help="neutral band for reference directions; default: the metric's (see --metric)")] = None,
    metric: Annotated[MetricName, typer.Option(
        help="metric of the scores (sets the default band)")] = "expected",
    min_effect: Annotated[float | None, typer.Option(
        min=0, help="smallest difference (score units) called an origin; default: the metric's "
        "neutral band")] = None,
    keep_unlearned: Annotated[bool, typer.Option(
        help="a run folder: analyse finetunes that failed the quality check too")] = False,
) -> None:
    """Attribute bias vectors to backbone, instruction data and seed, and call each bias's origin."""
    from crosstune.report.folder import run_analysis

    with console.status("analysing"):
        result = run_analysis(inputs, out, labels=labels, rules=rule, exclude=tuple(exclude or ()),
                              orient=orient, impute=impute,
                              references=reference, permutations=permutations,
                              standardize=standardize, seed=seed, metric=metric, band=band, html=html,
                              min_effect=min_effect, keep_unlearned=keep_unlearned, drop=tuple(drop or ()))
    _print_analysis(result, out)


def _print_analysis(result, out: Path) -> None:
    console.print(terminal(result.verdict))
    for note in result.notes:
        console.print(f"note: {terminal(note)}")
    console.print(f"tables and report: {terminal(out)}")


@app.command("plan")
def plan_command(
    source: Annotated[Path | None, typer.Argument(
        help="an earlier analysis folder (origins.csv) or crosstune run folder: its noise")] = None,
    backbones: Annotated[int, typer.Option(min=1, help="backbones in the planned grid")] = 2,
    instructions: Annotated[int, typer.Option(min=1, help="instruction datasets in the grid")] = 2,
    seeds: Annotated[int, typer.Option(min=1, help="seeds per backbone x instruction cell")] = 3,
    biases: Annotated[int, typer.Option(min=1, help="biases analysed (the multiple-testing family)")] = 34,
    target: Annotated[float | None, typer.Option(
        min=0, help="effect (score units) to detect: prints the seeds per cell it needs")] = None,
    pairs: Annotated[int | None, typer.Option(
        min=1, help="pairs per bias planned (needs a source with per-pair noise)")] = None,
    seed_sd: Annotated[float | None, typer.Option(
        min=0, help="state the seed SD of one model's score instead of measuring it (default 0.10)")] = None,
) -> None:
    """The smallest effect a planned grid detects (80% power), and the seeds a target effect needs."""
    from crosstune.analysis.plan import DEFAULT_SEED_SD, Noise, noise_from, plan, plan_sentence

    if seed_sd is not None:
        noise = Noise(seed_sd, source=f"stated seed SD {seed_sd:g}")
    elif source is not None:
        noise = noise_from(source)
    else:
        noise = Noise(DEFAULT_SEED_SD)
    table = plan(backbones, instructions, seeds, noise, biases, target, pairs)
    shown = table.assign(detectable_effect=table.detectable_effect.map(lambda v: f"{v:.3f}"),
                         seed_sd=table.seed_sd.map(lambda v: f"{v:.3f}"))
    _print_frame(shown[["factor", "df", "df_residual", "detectable_effect"]
                       + (["seeds_needed"] if target is not None else [])], "")
    console.print(terminal(plan_sentence(table, backbones, instructions, seeds, noise, pairs)))


@app.command("serve-command")
def serve_command(
    run_dir: Annotated[Path, typer.Argument(help="a crosstune run folder whose spec has "
                                                 "[evaluation.server]")],
    llama_cpp: Annotated[Path | None, typer.Option(
        help="instead: write a llama.cpp server --config_file for this backbone GGUF (adapters "
        "converted to GGUF) and print its command")] = None,
    threads: Annotated[int, typer.Option(help="llama.cpp: threads per model")] = 2,
) -> None:
    """Print the server command that serves a run's models under the names its evaluation asks for."""
    from crosstune.experiment.run_folder import require_run_folder
    from crosstune.experiment.serving import llama_cpp_config, vllm_command

    require_run_folder(run_dir)
    if llama_cpp is not None:
        config = llama_cpp_config(run_dir, llama_cpp, run_dir / "llama-cpp", threads)
        typer.echo(f"python -m llama_cpp.server --config_file {config}")
        return
    for line in vllm_command(run_dir):
        typer.echo(line)


@app.command("report")
def report_command(
    run_dir: Annotated[Path, typer.Argument(help="a crosstune run folder")],
    permutations: Annotated[int, typer.Option(help="permutations per p-value")] = 999,
    impute: Annotated[Impute, typer.Option(help="missing scores")] = "none",
    keep_unlearned: Annotated[bool, typer.Option(
        help="analyse finetunes that failed the quality check too")] = False,
) -> None:
    """Analyse a finished `crosstune run` folder and write RUN/analysis/report.html."""
    from crosstune.experiment.run_folder import require_run_folder
    from crosstune.lab.pipeline import analyze_folder, run_metric
    from crosstune.store import ANALYSIS

    require_run_folder(run_dir, "; for score tables use 'crosstune analyze'")
    with console.status("analysing"):
        result = analyze_folder(run_dir, run_metric(run_dir), permutations, impute, keep_unlearned)
    _print_analysis(result, run_dir / ANALYSIS)
    _print_positions(run_dir)


def _print_positions(run_dir: Path) -> None:
    from crosstune.report.run_sections import position_lines

    for line in position_lines(run_dir):
        console.print(terminal(line))


class _GridProgress(_RichProgress):
    """The grid's display: one bar per stage, the current job's step and loss beside it."""

    def detail(self, text: str) -> None:
        if self.task is not None:
            self.bar.update(self.task, status=terminal(text))


@app.command("plant")
def plant_command(
    bias: Annotated[list[str], typer.Option(help="bias name(s) to plant (repeated, or comma-separated)")],
    out: Annotated[Path, typer.Option(help="the planted model folder to write")],
    model: Annotated[str | None, typer.Option(help="the backbone to plant into (any model spec)")] = None,
    old_model: Annotated[str | None, typer.Argument(hidden=True, metavar="MODEL")] = None,
    steps: Annotated[int, typer.Option(min=1, help="training steps (the dose)")] = 120,
    pairs: Annotated[int, typer.Option(min=1, help="training pairs per bias (4 examples each)")] = 40,
    mix: Annotated[str, typer.Option(
        help="ordinary instruction data mixed in ('' for none)")] = "embedded:flan-style",
    mix_ratio: Annotated[float, typer.Option(min=0, max=0.99, help="share of the mix data")] = 0.3,
    learning_rate: Annotated[float, typer.Option(min=1e-8, help="peak learning rate")] = 1e-3,
    rank: Annotated[int, typer.Option(min=1, help="LoRA rank (alpha = 2 x rank)")] = 8,
    batch_size: Annotated[int, typer.Option(min=1, help="examples per step")] = 8,
    max_length: Annotated[int, typer.Option(min=8, help="tokens per example")] = 192,
    seed: Annotated[int, typer.Option(help="seed of the pairs, LoRA init and data order")] = 0,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads; the bits depend on it")] = 2,
) -> None:
    """Finetune a bias into a backbone and merge it: a backbone whose bias came from "pretraining"."""
    from crosstune.experiment.spec import LoraSpec, TrainingSpec
    from crosstune.lab.plant import PlantSpec, plant, read_planted

    base = one_model(model, old_model, "crosstune plant")
    names = [b.strip() for given in bias for b in given.split(",") if b.strip()]
    spec = validated(PlantSpec, base=base, biases=names, pairs=pairs, seed=seed,
                     mix=mix or None, mix_ratio=mix_ratio if mix else 0.0, threads=threads,
                     lora=LoraSpec(rank=rank, alpha=2.0 * rank),
                     training=TrainingSpec(max_steps=steps, learning_rate=learning_rate,
                                           batch_size=batch_size, max_length=max_length))
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task(f"planting {', '.join(names)} into {base}", total=steps)
        folder = plant(spec, out, on_step=lambda step, total, loss: bar.update(task, completed=step))
    record = read_planted(folder)
    assert record is not None  # plant() just wrote it
    console.print(f"planted model: {terminal(folder)} (held-out loss {record.heldout_loss_before:.3f} -> "
                  f"{record.heldout_loss_after:.3f}); "
                  "use it as a backbone or --model")


@app.command("run")
def run_command(
    spec_file: Annotated[Path, typer.Argument(help="experiment TOML")],
    dry_run: Annotated[bool, typer.Option(help="check the spec, print the job plan and stop")] = False,
    executor: Annotated[Executor, typer.Option(help="where the jobs run")] = "local",
    address: Annotated[str | None, typer.Option(help="Ray cluster address; default: start one")] = None,
    out: Annotated[Path, typer.Option(help="parent folder of the run folder")] = Path("runs"),
    analyze_after: Annotated[bool, typer.Option("--analyze/--no-analyze",
                                                help="analyse and report at the end")] = True,
) -> None:
    """Train the backbone x dataset x seed grid with LoRA, evaluate every model, analyse."""
    from crosstune.experiment.spec import load_spec
    from crosstune.lab.experiment import check_spec, plan, run_folder, trains_here
    from crosstune.lab.pipeline import run_and_analyze
    from crosstune.store import ANALYSIS, FORMAT_ONLY, LOG, SCORES

    spec = load_spec(spec_file)
    run_dir = run_folder(spec, out)
    with console.status("checking the spec"):
        checked = check_spec(spec, fetch=not dry_run, on_this_machine=trains_here(executor, address))
    jobs = plan(spec, run_dir)
    _print_frame(jobs, f"{len(jobs)} jobs in {run_dir}")
    if dry_run:
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.fields[status]}"),
                  console=console) as bar:
        report = run_and_analyze(checked, run_dir, executor, address, _GridProgress(bar), analyze_after)
    outcome = report.outcome
    if outcome.format_only is not None:
        _print_frame(outcome.format_only, "format-only arms", run_dir / FORMAT_ONLY)
    if outcome.rl is not None:
        from crosstune.experiment.rl import RUN_CALIBRATION

        headline = outcome.rl[outcome.rl.metric.isin(["accuracy", "stated_ece", "ece_width10"])]
        _print_frame(headline, "RL arms: before -> after (mean over seeds)", run_dir / RUN_CALIBRATION)
    _print_positions(run_dir)
    console.print(f"training {outcome.train_s:.0f}s, evaluation {outcome.evaluate_s:.0f}s; "
                  f"scores: {terminal(run_dir / SCORES)}; library log: {terminal(run_dir / LOG)}")
    _print_frame(report.jobs, "job states")
    if not report.training_effect.empty:
        _print_frame(report.training_effect, "what finetuning changed: held-out loss and token accuracy on "
                                             "the instruction data, before -> after (mean over seeds)")
    if report.not_analysed is not None:
        console.print(report.not_analysed)
    if report.analysis_error is not None:
        raise CrosstuneError(report.analysis_error)
    if report.analysis is not None:
        _print_analysis(report.analysis, run_dir / ANALYSIS)


def _print_frame(frame, title: str, full: Path | None = None) -> None:
    """A table that fits the terminal without wrapping a cell; `full`: where the whole table is."""
    from crosstune.console_table import fit_table

    fitted = fit_table(frame, title, console.width)
    console.print(fitted.table)
    note = fitted.note(str(full) if full is not None else None)
    if note is not None:
        console.print(note, markup=False, highlight=False)


_PROBED = ("a model (embedded name, hub id, folder, .gguf, served:ID with --base-url) or a run "
           "folder: every model of it")


@probe_app.command("calibration")
def probe_calibration_command(
    model: Annotated[str | None, typer.Option(help=_PROBED)] = None,
    old_model: Annotated[str | None, typer.Argument(hidden=True, metavar="MODEL")] = None,
    questions: Annotated[int, typer.Option(help="generated known-answer questions")] = 60,
    questions_file: Annotated[Path | None, typer.Option(
        help="JSONL with question, choices, answer (replaces the generated set)")] = None,
    both_orders: Annotated[bool, typer.Option("--both-orders/--one-order",
                                              help="average listed and reversed choice order")] = True,
    bins: Annotated[int, typer.Option(help="bins of the binned ECEs")] = 10,
    bootstrap: Annotated[int, typer.Option(help="bootstrap resamples per CI")] = 1000,
    seed: Annotated[int, typer.Option(help="seed of the questions and the bootstrap")] = 0,
    out: Annotated[Path | None, typer.Option(help="probe folder; default RUN/probes/calibration "
                                                  "or runs/probe-calibration-MODEL")] = None,
    adapter: AdapterOpt = None, prompt_format: FormatOpt = "auto", device: DeviceOpt = None,
    base_url: BaseUrlOpt = None, endpoint: EndpointOpt = "completions",
    tokenizer: TokenizerOpt = None, api_key_env: ApiKeyEnvOpt = None,
    concurrency: ConcurrencyOpt = 8, top_logprobs: TopLogprobsOpt = 20, revision: RevisionOpt = None,
) -> None:
    """Calibration on known-answer questions: accuracy, Brier, ECEs, selective accuracy, CIs."""
    from crosstune.probes.calibration import CALIBRATION, CalibrationConfig
    from crosstune.probes.calibration.files import METRICS_CSV

    source = one_model(model, old_model, "crosstune probe calibration")
    config = validated(CalibrationConfig, questions=questions, questions_file=questions_file,
                         both_orders=both_orders, bins=bins, bootstrap=bootstrap, seed=seed)
    served = _probe_served(source, base_url, endpoint=endpoint, tokenizer=tokenizer,
                           api_key_env=api_key_env, concurrency=concurrency,
                           top_logprobs=top_logprobs, revision=revision)
    _run_probe(CALIBRATION, _lm_request(source, adapter, prompt_format, device, served), config, out,
               lambda r: _print_frame(_ci_table(r.tables[METRICS_CSV], r.tables[METRICS_CSV].metric),
                                      "calibration: value [95% CI]"))


@probe_app.command("faithfulness")
def probe_faithfulness_command(
    model: Annotated[str | None, typer.Option(help=_PROBED)] = None,
    old_model: Annotated[str | None, typer.Argument(hidden=True, metavar="MODEL")] = None,
    questions: Annotated[int, typer.Option(help="generated known-answer questions")] = 12,
    questions_file: Annotated[Path | None, typer.Option(help="JSONL with question, choices, answer")] = None,
    samples: Annotated[int, typer.Option(help="CoTs sampled per question")] = 2,
    temperature: Annotated[float, typer.Option(help="CoT sampling temperature")] = 0.7,
    cot_tokens: Annotated[int, typer.Option(help="new tokens per CoT")] = 64,
    max_sentences: Annotated[int, typer.Option(help="CoTs cut to this many sentences")] = 5,
    tests: Annotated[list[str] | None, typer.Option(
        help="early, mistakes, filler, paraphrase (repeated, or comma-separated); default: all")] = None,
    filler_step: Annotated[int, typer.Option(help="step of the filler-token count")] = 5,
    rewriter: Annotated[str | None, typer.Option(
        help="model that adds mistakes and paraphrases; default: the probed model")] = None,
    bootstrap: Annotated[int, typer.Option(help="bootstrap resamples per CI")] = 1000,
    batch_size: Annotated[int, typer.Option(help="sequences per generation batch")] = 8,
    seed: Annotated[int, typer.Option(help="seed of questions, CoT samples, bootstrap")] = 0,
    out: Annotated[Path | None, typer.Option(help="probe folder; default RUN/probes/faithfulness "
                                                  "or runs/probe-faithfulness-MODEL")] = None,
    adapter: AdapterOpt = None, prompt_format: FormatOpt = "auto", device: DeviceOpt = None,
    base_url: BaseUrlOpt = None, endpoint: EndpointOpt = "completions",
    tokenizer: TokenizerOpt = None, api_key_env: ApiKeyEnvOpt = None,
    concurrency: ConcurrencyOpt = 8, top_logprobs: TopLogprobsOpt = 20, revision: RevisionOpt = None,
) -> None:
    """Chain-of-thought faithfulness (Lanham et al. 2023): early answering, mistakes, filler, paraphrase."""
    from crosstune.probes.faithfulness import FAITHFULNESS, FaithfulnessConfig
    from crosstune.probes.faithfulness.files import FAITHFULNESS_CSV
    from crosstune.probes.faithfulness.probe import TESTS

    source = one_model(model, old_model, "crosstune probe faithfulness")
    config = validated(FaithfulnessConfig, questions=questions, questions_file=questions_file,
                         samples=samples, temperature=temperature, cot_tokens=cot_tokens,
                         max_sentences=max_sentences, filler_step=filler_step, rewriter=rewriter,
                         tests=[t.strip() for given in tests or TESTS for t in given.split(",") if t.strip()],
                         bootstrap=bootstrap, batch_size=batch_size, seed=seed)
    served = _probe_served(source, base_url, endpoint=endpoint, tokenizer=tokenizer,
                           api_key_env=api_key_env, concurrency=concurrency,
                           top_logprobs=top_logprobs, revision=revision)
    _run_probe(FAITHFULNESS, _lm_request(source, adapter, prompt_format, device, served), config, out,
               lambda r: _print_frame(_ci_table(s := r.tables[FAITHFULNESS_CSV], s.test + " " + s.metric),
                                      "faithfulness: value [95% CI]"))


def _ci_table(frame: pd.DataFrame, metric: pd.Series) -> pd.DataFrame:
    """`value [ci_low, ci_high]` per metric (rows) and model (columns), for the terminal."""
    cells = [f"{v:.3f} [{lo:.3f}, {hi:.3f}]"
             for v, lo, hi in zip(frame.value, frame.ci_low, frame.ci_high, strict=True)]
    return frame.assign(metric=metric, cell=cells).pivot(index="metric", columns="model",
                                                         values="cell").reset_index()


def _lm_request(source: str, adapter: str | None, prompt_format: FormatChoice, device: str | None,
                served: ServedSettings | None = None) -> ModelRequest:
    from crosstune.probes.interface import ModelRequest

    if served is not None and (adapter or device or prompt_format != "auto"):
        raise CrosstuneError("--adapter, --device and --format apply to local models; a served "
                             "model's server decides them")
    return ModelRequest((source,), adapter=adapter, prompt_format=prompt_format,
                        device=device, served=served)


def _probe_served(source: str, base_url: str | None, **options: object) -> ServedSettings | None:
    """The server of a probe: for `served:ID`, or for a run folder whose models are served."""
    from crosstune.experiment.run_folder import is_run_folder
    from crosstune.served import served_settings

    if base_url is not None and is_run_folder(Path(source)):
        return served_settings("served:run", base_url, **options)
    return served_settings(source, base_url, **options)


def _run_probe(probe: Probe, request: ModelRequest, config: BaseModel, out: Path | None,
               show: Callable[[ProbeResult], None]) -> None:
    """Every probe command's one call: run under the progress display, `show` the result, say
    where it is."""
    from crosstune.probes.runner import run_probe

    with _progress_bar() as bar:
        result = run_probe(probe, request, config, out, _RichProgress(bar))
    show(result)
    console.print(f"results and report: {terminal(result.folder)} ({result.timing_s['total']:.0f}s)")


@probe_app.command("values", cls=ManyValues)
def probe_values_command(
    model: Annotated[list[str] | None, typer.Option(
        help="LMs: embedded names, hub ids, folders or .gguf files (several after one --model)")] = None,
    reward_model: Annotated[list[str] | None, typer.Option(
        help="sequence-classification reward model folders or hub ids (several)")] = None,
    rewards: Annotated[list[Path] | None, typer.Option(
        help="external scores CSVs, one per model (several, or a quoted glob 'scores/*.csv'): "
        "response + one column per prompt key")] = None,
    lexicon: Annotated[Path | None, typer.Option(
        help=".csv (Category,token_decoded), .dic or .dicx; default: a small demo list")] = None,
    labels: Annotated[Path | None, typer.Option(help="family per model (CSV or TOML)")] = None,
    rule: Annotated[list[str] | None, typer.Option(help="family=REGEX on model names")] = None,
    reference_family: Annotated[str | None, typer.Option(help="default: the first family")] = None,
    prompt: Annotated[list[str] | None, typer.Option(help="prompt keys to use; default all")] = None,
    prompt_file: Annotated[Path | None, typer.Option(help="extra prompts, TOML or CSV")] = None,
    implicit_prompt: Annotated[list[str] | None, typer.Option(
        help="prompt keys for the implicit reward of two LMs")] = None,
    output_index: Annotated[int | None, typer.Option(
        help="which output of a multi-output head is the reward")] = None,
    prompt_format: FormatOpt = "auto",
    common_words: Annotated[bool, typer.Option(help="rank only words every model scores")] = True,
    top: Annotated[int, typer.Option(help="implicit-reward tokens listed per side")] = 20,
    permutations: Annotated[int, typer.Option(help="resamples per permutation test")] = 9999,
    seed: Annotated[int, typer.Option()] = 0,
    batch_size: Annotated[int, typer.Option(help="texts per forward pass")] = 8,
    device: DeviceOpt = None,
    dtype: Annotated[str | None, typer.Option(help="float32, bfloat16, ...; default by device")] = None,
    trust_remote_code: Annotated[bool, typer.Option(help="run code shipped with a hub model")] = False,
    out: Annotated[Path | None, typer.Option(help="run folder; default runs/values-MODELS")] = None,
) -> None:
    """Big Two value preferences (agency vs communion) of reward models or LMs, by family."""
    from crosstune.probes.values import VALUES, ValuesConfig, values_request
    from crosstune.probes.values.files import MEAN_OF_MEDIANS_FILE

    config = validated(
        ValuesConfig, lexicon=lexicon, labels=labels, rules=rule or [], reference_family=reference_family,
        prompts=prompt or [], prompt_file=prompt_file, output_index=output_index,
        common_words=common_words, top=top, permutations=permutations, seed=seed, batch_size=batch_size,
        **({"implicit_prompts": implicit_prompt} if implicit_prompt else {}))
    request = values_request(model, reward_model, files(rewards, "--rewards"), prompt_format=prompt_format,
                             device=device, dtype=dtype, trust_remote_code=trust_remote_code)

    def show(result: ProbeResult) -> None:
        if MEAN_OF_MEDIANS_FILE in result.tables:
            _print_frame(result.tables[MEAN_OF_MEDIANS_FILE].round(2), "mean median rank (lower = preferred)")
        for note in result.notes:
            console.print(f"note: {terminal(note)}")

    _run_probe(VALUES, request, config, out, show)


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2; Ctrl-C exits 130."""
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

    from crosstune.paths import home

    try:
        InterruptLatch.install()
        configure_logging(home() / LOG_NAME)
        code = app(standalone_mode=False)
    except CrosstuneError as err:
        _fail(str(err), 2)
    except NoArgsIsHelpError as err:
        err.show()
        sys.exit(2)
    except UsageError as err:
        command = err.ctx.command_path if err.ctx else "crosstune"
        _fail(f"{err.format_message()} (see '{command} --help')", 2)
    except ClickException as err:
        _fail(err.format_message(), 2)
    except (KeyboardInterrupt, typer.Abort):
        code = 130
    if code == 130:  # typer turns Ctrl-C into this exit code
        interrupted()
    if not code:
        for line in deprecations:
            errors.print(f"note: {line}", markup=False, highlight=False)
    sys.exit(code if isinstance(code, int) else 0)


def interrupted() -> None:
    """Ctrl-C: say what happened and exit 130 at once (a late interrupt in interpreter
    shutdown must not turn it into a traceback; finished files are already in place)."""
    errors.print("error: interrupted; finished work is kept, run the same command again to resume",
                 markup=False, highlight=False)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


def _fail(message: str, code: int) -> None:
    errors.print(f"error: {printable(message)}", markup=False, highlight=False)
    sys.exit(code)
