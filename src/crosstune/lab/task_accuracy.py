"""Task accuracy through lm-evaluation-harness, on the model object crosstune already holds.

lm-eval does the scoring (`simple_evaluate` over an `HFLM` wrapping the loaded model, so no hub
access). `crosstune_heldout` is a local multiple-choice task written here: items of the embedded
datasets' tasks with inputs no training row uses. The quality gate asks a finetune to reach a
share of a reference model's gain over the backbone, as arXiv 2507.07186 did with MMLU.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from crosstune.engine.cache import cache_key, cached, result_cache
from crosstune.errors import CrosstuneError
from crosstune.experiment.embedded_data import heldout_items
from crosstune.experiment.spec import AccuracySpec
from crosstune.lab.datasets import EMBEDDED_SIZE
from crosstune.models.handle import ModelHandle
from crosstune.records import Gate, Quality

log = logging.getLogger(__name__)

HELDOUT_TASK = "crosstune_heldout"
_HELDOUT_YAML = """\
task: {task}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{question}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{target}}}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1
"""


def heldout_rows(size: int) -> list[dict[str, Any]]:
    """The held-out test set: terse question, options, index of the right one, task."""
    rows = []
    for item in heldout_items(size, EMBEDDED_SIZE):
        choices = list(dict.fromkeys(item.choices))
        rows.append({"question": item.terse_q, "choices": choices,
                     "target": choices.index(item.terse_a), "task": item.task})
    return rows


def write_heldout_task(folder: Path, size: int) -> Path:
    """Write crosstune_heldout.yaml and its JSONL into `folder` (an lm-eval include path)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"{HELDOUT_TASK}.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in heldout_rows(size)))
    (folder / f"{HELDOUT_TASK}.yaml").write_text(_HELDOUT_YAML.format(task=HELDOUT_TASK,
                                                                      data=json.dumps(str(data))))
    return folder


def _task_manager(spec: AccuracySpec, folder: Path) -> Any:
    try:
        from lm_eval.tasks import TaskManager
    except ImportError as err:
        raise CrosstuneError("[accuracy] needs lm-evaluation-harness: "
                             "pip install 'crosstune[bench]'") from err

    paths = [str(write_heldout_task(folder, spec.heldout_size))]
    if spec.include_path is not None:
        if not Path(spec.include_path).is_dir():
            raise CrosstuneError(f"accuracy.include_path {spec.include_path} is not a folder of task YAMLs")
        paths.append(spec.include_path)
    manager = TaskManager(include_path=paths)
    unknown = [t for t in spec.tasks if t not in manager.all_tasks]
    if unknown:
        raise CrosstuneError(f"accuracy.tasks {unknown} are not lm-eval tasks; use a name from "
                             "'lm-eval ls tasks', crosstune_heldout, or a YAML in accuracy.include_path")
    return manager


def check_tasks(spec: AccuracySpec) -> None:
    """Fail before any training when lm-eval is missing or a task name is unknown."""
    with tempfile.TemporaryDirectory(prefix="crosstune-tasks-") as folder:
        _task_manager(spec, Path(folder))


def task_accuracy(model: Any, handle: ModelHandle, spec: AccuracySpec) -> dict[str, float]:
    """{task: metric} of `model` (handle's tokenizer and prompt format) by lm-eval."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM

    model.eval()
    lm = HFLM(pretrained=model, tokenizer=handle.tokenizer, batch_size=spec.batch_size,
              backend="seq2seq" if handle.kind == "seq2seq" else "causal",
              add_bos_token=handle.add_special_tokens)
    with tempfile.TemporaryDirectory(prefix="crosstune-tasks-") as folder:
        results = lm_eval.simple_evaluate(
            model=lm, tasks=list(spec.tasks), task_manager=_task_manager(spec, Path(folder)),
            num_fewshot=spec.num_fewshot, limit=spec.limit,
            apply_chat_template=handle.prompt_format == "chat",
            log_samples=False, bootstrap_iters=0, verbosity="ERROR", random_seed=0,
            numpy_random_seed=0, torch_random_seed=0, fewshot_random_seed=0)
    if results is None:
        raise CrosstuneError("lm-eval returned no results (a multi-process run reports on rank 0 only)")
    key = f"{spec.metric},none"
    missing = [t for t in spec.tasks if key not in results["results"].get(t, {})]
    if missing:
        raise CrosstuneError(f"lm-eval reported no '{spec.metric}' for {missing}; set accuracy.metric "
                             "to one the tasks compute (e.g. acc, acc_norm, exact_match)")
    return {t: float(results["results"][t][key]) for t in spec.tasks}


METHOD = "lm-eval-task-accuracy-v1"


def cached_accuracy(model: Any, handle: ModelHandle, spec: AccuracySpec) -> dict[str, float]:
    """task_accuracy of `model`, kept in the result cache under its fingerprint like every result."""
    import lm_eval

    key = cache_key(handle.fingerprint, METHOD, {
        "spec": spec.model_dump(exclude={"reference", "min_share"}), "lm_eval": lm_eval.__version__})
    cache = result_cache()
    try:
        return cached(cache, [key], lambda _: iter([{0: task_accuracy(model, handle, spec)}]))[0]
    finally:
        cache.close()


def reference_accuracy(reference: str, spec: AccuracySpec) -> dict[str, float]:
    """Accuracy of the gate's reference model: loaded, so that its fingerprint (not its name, whose
    folder may change) keys the cache."""
    from crosstune.models import load_model

    handle = load_model(reference)
    return cached_accuracy(handle.model, handle, spec)


def gate(base: dict[str, float], tuned: dict[str, float], reference: dict[str, float],
         min_share: float) -> dict[str, Any]:
    """Passes when the finetune's mean gain over the backbone is >= min_share x the reference's."""
    gain = sum(tuned[t] - base[t] for t in base) / len(base)
    reference_gain = sum(reference[t] - base[t] for t in base) / len(base)
    if reference_gain <= 0:
        log.warning("reference gains %.3f over the backbone: the quality gate cannot fail", reference_gain)
    return {"gain": gain, "reference_gain": reference_gain, "min_share": min_share,
            "passed": gain >= min_share * reference_gain}


def accuracy_check(peft_model: Any, handle: ModelHandle, backbone: str, spec: AccuracySpec) -> Quality:
    """The job's accuracy record: backbone (adapter off) and finetune, plus the gate if configured."""
    with peft_model.disable_adapter():
        before = cached_accuracy(peft_model, handle, spec)
    after = task_accuracy(peft_model, handle, spec)
    reference = spec.reference.get(backbone)
    checked = None
    if reference is not None:
        ref = reference_accuracy(reference, spec)
        checked = Gate(reference=reference, reference_accuracy=ref,
                       **gate(before, after, ref, spec.min_share))
    return Quality(task_accuracy_before=before, task_accuracy_after=after, gate=checked)

