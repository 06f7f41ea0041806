"""A naive one-prompt-at-a-time scorer: the engine must agree with it."""

from __future__ import annotations

import numpy as np
import torch

from crosstune.engine.tokens import encode_causal, encode_seq2seq
from crosstune.models.handle import ModelHandle


@torch.inference_mode()
def naive_logprobs(handle: ModelHandle, context: str, labels: tuple[str, ...]) -> np.ndarray:
    """Unbatched, unpadded, full logits: log P(label | context) for each label."""
    model = handle.model
    out = []
    if handle.kind == "seq2seq":
        enc = encode_seq2seq(handle.tokenizer, context, labels)
        for cont in enc.continuations:
            dec = torch.tensor([[model.config.decoder_start_token_id, *cont[:-1]]])
            logits = model(input_ids=torch.tensor([enc.context]), decoder_input_ids=dec).logits
            logp = torch.log_softmax(logits[0].double(), -1)
            out.append(sum(logp[i, t].item() for i, t in enumerate(cont)))
        return np.asarray(out)
    enc = encode_causal(handle.tokenizer, context, labels, handle.add_special_tokens)
    for cont in enc.continuations:
        ids = torch.tensor([enc.context + list(cont)])
        logp = torch.log_softmax(model(input_ids=ids).logits[0].double(), -1)
        start = len(enc.context) - 1
        out.append(sum(logp[start + i, t].item() for i, t in enumerate(cont)))
    return np.asarray(out)
