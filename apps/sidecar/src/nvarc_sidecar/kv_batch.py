"""Lock-step forward passes over rows of equal-length prompts with a shared KV cache.

All rows sit at the same position at every step, so one `DynamicCache` serves the batch.
Before writing position `pos` the cache is cropped to `pos` entries: that discards what
a previously explored deeper branch wrote, which lets siblings in a depth-first search
reuse their common prefix.
"""

import torch
from transformers import DynamicCache

# TODO: a pre-allocated cache written at `cache_position` would avoid the per-step
# concatenation of DynamicCache. That matters for the 4B model on a GPU, not for CPU presets.


class KvBatch:
    """Forward passes for `n` prompt rows of one length `T`, counting each pass in `forward_steps`."""

    def __init__(self, model: torch.nn.Module, prompts: list[list[int]], device: torch.device) -> None:
        lengths = {len(prompt) for prompt in prompts}
        if len(lengths) != 1:
            raise ValueError(f"rows of a batch must have one length, got {sorted(lengths)}")
        self._model = model
        self._device = device
        self._prompts = prompts
        self.prompt_length = lengths.pop()
        self.rows = len(prompts)
        self.forward_steps = 0
        self._cache = DynamicCache()

    @torch.inference_mode()
    def prefill(self) -> torch.Tensor:
        """Run the prompts; return float32 next-token log-probabilities, shape [n, V]."""
        input_ids = torch.tensor(self._prompts, dtype=torch.long, device=self._device)  # [n, T]
        output = self._model(input_ids=input_ids, past_key_values=self._cache, use_cache=True, logits_to_keep=1)
        self.forward_steps += 1
        return torch.log_softmax(output.logits[:, -1, :].float(), dim=-1)  # [n, V] float32

    @torch.inference_mode()
    def step(self, token_ids: list[int], position: int) -> torch.Tensor:
        """Feed one token per row at `position` (T <= position); return next-token log-probs, shape [n, V].

        Cache entries at `position` and beyond are dropped first, so each row attends to
        the prompt and the tokens most recently fed at positions T..position-1.
        """
        self._cache.crop(position)
        input_ids = torch.tensor(token_ids, dtype=torch.long, device=self._device)[:, None]  # [n, 1]
        cache_position = torch.tensor([position], dtype=torch.long, device=self._device)  # [1]
        position_ids = cache_position[None, :].expand(self.rows, 1)  # [n, 1]
        output = self._model(
            input_ids=input_ids,
            past_key_values=self._cache,
            cache_position=cache_position,
            position_ids=position_ids,
            use_cache=True,
        )
        self.forward_steps += 1
        return torch.log_softmax(output.logits[:, -1, :].float(), dim=-1)  # [n, V] float32
