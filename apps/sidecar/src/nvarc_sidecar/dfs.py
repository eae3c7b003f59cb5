"""Batched depth-first search over completions whose probability exceeds a threshold.

Every row of a KvBatch explores its own tree in lock-step with the other rows. A prefix
is kept only while its cumulative negative log-likelihood s stays below
tau = -ln(min_probability); completed sequences are disjoint events, so at most
ceil(1/p) - 1 of them can clear p. Siblings are explored best-first. The search uses an
explicit stack because completions can be ~930 tokens deep.
"""

import math
import time
from dataclasses import dataclass, field

import torch

from nvarc_sidecar.call_guard import CallGuard
from nvarc_sidecar.kv_batch import KvBatch
from nvarc_sidecar.tokens import PAD_TOKEN_ID

DUMMY_NLL = 1000.0
"""Score of the pad token fed by a row with no candidate left. -ln(p) is at most ~745 for
any positive double p, so a row fed this score can never pass the threshold again."""


@dataclass(frozen=True)
class DfsSettings:
    """Search settings: tokens that may be emitted, the end token, threshold and budget."""

    allowed_token_ids: tuple[int, ...]
    eos_token_id: int
    max_nll: float  # tau = -ln(min_probability), nats
    max_new_tokens: int  # end token included


@dataclass(frozen=True)
class FoundSequence:
    """A completion ending with the end token; nll is the sum of -log p over its tokens (nats)."""

    token_ids: tuple[int, ...]
    token_logprobs: tuple[float, ...]
    nll: float


@dataclass
class RowOutcome:
    """Search result of one row: finished sequences and the greedy prefix for a time-limited fallback."""

    found: list[FoundSequence] = field(default_factory=list)
    greedy_prefix: list[tuple[int, float]] = field(default_factory=list)


@dataclass
class DfsOutcome:
    """Per-row outcomes; `timed_out` is true when the time limit stopped the search early."""

    rows: list[RowOutcome]
    timed_out: bool


@dataclass(frozen=True)
class _Candidate:
    nll: float
    token_id: int
    logprob: float


@dataclass
class _Frame:
    """One depth of the search: the children of the current prefix of each row, not yet explored."""

    position: int  # where the next popped tokens are written
    budget: int  # tokens still allowed at this depth, end token included
    candidates: list[list[_Candidate]]  # per row, sorted so that pop() returns the best
    on_greedy_path: bool  # every ancestor popped its first (most likely) child
    popped_once: bool = False


def run_dfs(
    batch: KvBatch,
    root_logprobs: torch.Tensor,
    settings: DfsSettings,
    guard: CallGuard,
    stop_at_s: float | None,
) -> DfsOutcome:
    """Search every row of `batch` from its prompt; `root_logprobs` [n, V] are the prefill's output.

    `stop_at_s` is a `time.monotonic()` limit; when it passes, the search stops and
    keeps what it found. `guard` is checked before every forward step.
    """
    outcomes = [RowOutcome() for _ in range(batch.rows)]
    paths: list[list[tuple[int, float]]] = [[] for _ in range(batch.rows)]
    root = _expand(root_logprobs, [0.0] * batch.rows, paths, batch.prompt_length, settings.max_new_tokens,
                   settings, outcomes, on_greedy_path=True)
    stack = [root]
    while stack:
        guard.check()
        if stop_at_s is not None and time.monotonic() >= stop_at_s:
            return DfsOutcome(rows=outcomes, timed_out=True)
        frame = stack[-1]
        popped = [row.pop() if row else None for row in frame.candidates]
        if all(candidate is None for candidate in popped):
            stack.pop()
            continue
        child_on_greedy_path = frame.on_greedy_path and not frame.popped_once
        frame.popped_once = True
        _descend(paths, len(stack) - 1, popped, outcomes if child_on_greedy_path else None)

        tokens = [PAD_TOKEN_ID if candidate is None else candidate.token_id for candidate in popped]
        scores = [DUMMY_NLL if candidate is None else candidate.nll for candidate in popped]
        logprobs = batch.step(tokens, frame.position)  # [n, V]
        stack.append(_expand(logprobs, scores, paths, frame.position + 1, frame.budget - 1,
                             settings, outcomes, on_greedy_path=child_on_greedy_path))
    return DfsOutcome(rows=outcomes, timed_out=False)


def _descend(
    paths: list[list[tuple[int, float]]],
    depth: int,
    popped: list[_Candidate | None],
    greedy_outcomes: list[RowOutcome] | None,
) -> None:
    """Set each row's path to its prefix at `depth` plus the popped token."""
    for row, candidate in enumerate(popped):
        del paths[row][depth:]
        if candidate is None:
            paths[row].append((PAD_TOKEN_ID, -math.inf))
            continue
        paths[row].append((candidate.token_id, candidate.logprob))
        if greedy_outcomes is not None:
            greedy_outcomes[row].greedy_prefix.append((candidate.token_id, candidate.logprob))


def _expand(
    logprobs: torch.Tensor,
    prefix_nll: list[float],
    paths: list[list[tuple[int, float]]],
    position: int,
    budget: int,
    settings: DfsSettings,
    outcomes: list[RowOutcome],
    on_greedy_path: bool,
) -> _Frame:
    """Record finished sequences and collect the children that stay under the threshold.

    The end token finishes a sequence when s < tau. Any other allowed token becomes a
    child when s < tau and the budget leaves room for at least the end token after it.
    """
    allowed = list(settings.allowed_token_ids)
    allowed_logprobs = logprobs[:, allowed].tolist()  # [n][len(allowed)]
    candidates: list[list[_Candidate]] = []
    for row, row_logprobs in enumerate(allowed_logprobs):
        row_candidates = []
        for token_id, logprob in zip(allowed, row_logprobs):
            nll = prefix_nll[row] - logprob
            if nll >= settings.max_nll:
                continue
            if token_id == settings.eos_token_id:
                outcomes[row].found.append(_finish(paths[row], token_id, logprob, nll))
            elif budget > 1:
                row_candidates.append(_Candidate(nll=nll, token_id=token_id, logprob=logprob))
        row_candidates.sort(key=lambda candidate: (candidate.nll, candidate.token_id), reverse=True)
        candidates.append(row_candidates)
    return _Frame(position=position, budget=budget, candidates=candidates, on_greedy_path=on_greedy_path)


def _finish(path: list[tuple[int, float]], eos_token_id: int, logprob: float, nll: float) -> FoundSequence:
    return FoundSequence(
        token_ids=tuple(token_id for token_id, _ in path) + (eos_token_id,),
        token_logprobs=tuple(token_logprob for _, token_logprob in path) + (logprob,),
        nll=nll,
    )
