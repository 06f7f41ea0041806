"""A grid evaluated through a server: names on the server, the vLLM command, adapters for llama.cpp."""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest

from crosstune.experiment.run_folder import RunFolder
from crosstune.experiment.serving import served_settings_for, vllm_command
from crosstune.experiment.spec import ExperimentSpec, jobs
from crosstune.lab.experiment import claim_run_folder
from crosstune.store import read_json, write_json
from tests.test_run_folder import OLD_DONE

SPEC = {"name": "t", "backbones": ["org/a", "b"], "seeds": [0, 1], "datasets": ["embedded:flan-style"],
        "evaluation": {"server": {"base_url": "http://gpu:8000/v1", "base_urls": {"b": "http://gpu:8001/v1"}}}}


def _run(tmp_path) -> RunFolder:
    spec = ExperimentSpec.model_validate(SPEC)
    claim_run_folder(spec, tmp_path)
    for job in jobs(spec)[:2]:  # org/a's two seeds are finished
        folder = RunFolder(tmp_path).job_folder(job)
        write_json(folder / "status.json", {**OLD_DONE, "job_id": job.job_id, "seed": job.seed,
                                            "data_seed": job.seed})
        (folder / "adapter").mkdir()
    return RunFolder(tmp_path)


def test_the_vllm_command_serves_each_backbone_and_every_finished_adapter_under_its_job_id(tmp_path):
    run = _run(tmp_path)
    lines = vllm_command(tmp_path)
    assert len(lines) == 2  # one server per backbone
    first = shlex.split(lines[0])
    assert first[:3] == ["vllm", "serve", "org/a"]
    assert first[first.index("--served-model-name") + 1] == "org/a"
    assert first[first.index("--port") + 1] == "8000" and "--enable-lora" in first
    modules = first[first.index("--lora-modules") + 1:]
    done = [j for j in run.jobs() if j.done]
    assert modules == [f"{j.spec.job_id}={j.adapter.resolve()}" for j in done]
    second = shlex.split(lines[1])
    assert second[second.index("--port") + 1] == "8001" and "--enable-lora" not in second


def test_each_model_is_asked_under_its_name_at_its_backbones_url(tmp_path):
    run = _run(tmp_path)
    spec = run.valid_spec()
    names = {m.name: served_settings_for(spec, m) for m in run.models()}
    assert names["org-a--untuned"].model == "org/a"
    assert names["b--untuned"].base_url == "http://gpu:8001/v1"
    tuned = [s for n, s in names.items() if "untuned" not in n]
    assert {s.model for s in tuned} == {j.spec.job_id for j in run.jobs() if j.done}
    assert all(s.tokenizer == "org/a" and s.base_url == "http://gpu:8000/v1" for s in tuned)


def test_a_spec_without_a_server_is_stored_as_before(tmp_path):
    plain = {k: v for k, v in SPEC.items() if k != "evaluation"}
    claim_run_folder(ExperimentSpec.model_validate(plain), tmp_path)
    assert "server" not in read_json(tmp_path / "spec.json")["evaluation"]
    assert ExperimentSpec.model_validate(SPEC).evaluation.scoring().model_dump() == \
        ExperimentSpec.model_validate(plain).evaluation.model_dump(exclude={"server"})


def test_a_peft_adapter_becomes_a_gguf_lora_with_llama_cpp_names_and_rope_rows(tmp_path):
    gguf = pytest.importorskip("gguf")
    from safetensors.numpy import save_file

    from crosstune.models.gguf_lora import _permute, adapter_to_gguf

    base = tmp_path / "base.gguf"  # SmolLM2's head counts, no weights
    writer = gguf.GGUFWriter(str(base), "llama")
    writer.add_uint32("llama.attention.head_count", 9)
    writer.add_uint32("llama.attention.head_count_kv", 3)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    rng = np.random.default_rng(0)
    prefix = "base_model.model.model.layers.0"
    tensors = {f"{prefix}.self_attn.q_proj.lora_A.weight": rng.normal(size=(4, 576)),
               f"{prefix}.self_attn.q_proj.lora_B.weight": rng.normal(size=(576, 4)),
               f"{prefix}.mlp.down_proj.lora_A.weight": rng.normal(size=(4, 1536)),
               f"{prefix}.mlp.down_proj.lora_B.weight": rng.normal(size=(576, 4))}
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    save_file({k: v.astype(np.float32) for k, v in tensors.items()},
              str(adapter / "adapter_model.safetensors"))
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 4, "lora_alpha": 8}))
    out = adapter_to_gguf(adapter, base, tmp_path / "a.gguf")
    reader = gguf.GGUFReader(str(out))
    got = {t.name: np.asarray(t.data) for t in reader.tensors}
    assert set(got) == {"blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b",
                        "blk.0.ffn_down.weight.lora_a", "blk.0.ffn_down.weight.lora_b"}
    q_b = tensors[f"{prefix}.self_attn.q_proj.lora_B.weight"].astype(np.float32)
    np.testing.assert_array_equal(got["blk.0.attn_q.weight.lora_b"], _permute(q_b, 9))
    np.testing.assert_array_equal(got["blk.0.ffn_down.weight.lora_b"],
                                  tensors[f"{prefix}.mlp.down_proj.lora_B.weight"].astype(np.float32))
    assert float(reader.fields["adapter.lora.alpha"].parts[-1][0]) == 8.0


def test_a_probe_reads_a_run_folders_models_on_a_server_under_their_names(tmp_path):
    from crosstune.probes.calibration import CALIBRATION, CalibrationConfig
    from crosstune.probes.interface import ModelRequest
    from crosstune.progress import LogProgress
    from crosstune.served.settings import ServedSettings
    from tests.served_stub import StubServer

    stub = StubServer(lambda text: np.array([0.7, 0.3]), model="org/a").start()
    spec = {**SPEC, "backbones": ["org/a"],
            "evaluation": {"server": {"base_url": stub.url, "tokenizer": None,
                                      "finetuned": "{backbone}"}}}
    claim_run_folder(ExperimentSpec.model_validate(spec), tmp_path / "run")
    try:
        request = ModelRequest((str(tmp_path / "run"),),
                               served=ServedSettings(model="run", base_url=stub.url))
        result = CALIBRATION.run(request, CalibrationConfig(questions=2, bootstrap=10), LogProgress())
    finally:
        stub.stop()
    models = result.tables["models.csv"]
    assert list(models.model) == ["org-a--untuned"]
    assert result.facts["scorer"] == "served-next-token-v1"
    assert all(body["model"] == "org/a" for body in stub.requests)
