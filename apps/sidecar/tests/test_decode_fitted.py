"""Decode and Score on the `test` model fitted in this module with TestTimeFineTune."""

import math
import random

import grpc
import pytest

from dialog import IM_END, grid_tokens, prompt, reply, user_turn, assistant_header
from nvarc_sidecar.protos import sidecar_pb2
from rpc_builders import decode_request, identity_sequences, random_grid, score_request, train, ttft_request

# DFS sums log-probabilities from incremental KV-cache steps and Score from one full
# pass. Both use float32 kernels, so the sums differ by rounding only (about 1e-5 nats
# seen on the CPU with the `test` preset).
NLL_TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def stub(sidecar, test_model_dir):
    sidecar.stub.LoadModel(sidecar_pb2.LoadModelRequest(model_path=str(test_model_dir)), timeout=120)
    return sidecar.stub


@pytest.fixture(scope="module")
def identity_adapter(stub) -> str:
    """An adapter fitted to the identity task on 2x2 grids with 4 colors."""
    sequences = identity_sequences(random.Random(0), count=32, pairs=4)
    updates = train(stub, ttft_request(sequences, request_id="fit-identity", progress_every_steps=128, epochs=20))
    return updates[-1].adapter_id


@pytest.fixture(scope="module")
def identity_prompts() -> list[tuple[list[int], list[int]]]:
    """(prompt, expected completion) for new test inputs: two demonstrations, then the test input."""
    rng = random.Random(100)
    cases = []
    for _ in range(4):
        demonstrations = [(grid, grid) for grid in (random_grid(rng, 2, 2, 4) for _ in range(2))]
        test_input = random_grid(rng, 2, 2, 4)
        cases.append((prompt(demonstrations, test_input), reply(test_input)))
    return cases


def _decode(stub, request) -> dict[int, sidecar_pb2.DecodeResult]:
    results = {}
    for result in stub.Decode(request, timeout=120):
        assert result.prompt_index not in results
        results[result.prompt_index] = result
    return results


def test_dfs_finds_the_right_grid_after_ttft(stub, identity_adapter, identity_prompts):
    prompts = [prompt_ids for prompt_ids, _ in identity_prompts]

    fitted = _decode(stub, decode_request(prompts, adapter_id=identity_adapter, min_probability=0.1, max_new_tokens=12))
    untrained = _decode(stub, decode_request(prompts, min_probability=0.1, max_new_tokens=12))

    for index, (_, expected) in enumerate(identity_prompts):
        found = [list(completion.token_ids) for completion in fitted[index].completions if not completion.greedy]
        assert expected in found, f"prompt {index}: {expected} not among {found}"
        assert expected not in [list(completion.token_ids) for completion in untrained[index].completions]


def test_score_prefers_the_right_grid(stub, identity_adapter, identity_prompts):
    pairs = []
    for prompt_ids, expected in identity_prompts:
        wrong = list(expected)
        wrong[0] = (wrong[0] + 1) % 4
        pairs += [(prompt_ids, expected), (prompt_ids, wrong)]

    nll = stub.Score(score_request(pairs, adapter_id=identity_adapter, batch_size=3), timeout=60).nll

    for index in range(len(identity_prompts)):
        assert nll[2 * index] < nll[2 * index + 1]


def test_reloading_model_keeps_adapters(stub, test_model_dir, identity_adapter, identity_prompts):
    stub.LoadModel(sidecar_pb2.LoadModelRequest(model_path=str(test_model_dir)), timeout=120)

    reply_nll = stub.Score(score_request(identity_prompts[:1], adapter_id=identity_adapter), timeout=60).nll

    assert len(reply_nll) == 1


@pytest.mark.parametrize("adapter", ["base", "identity"])
@pytest.mark.parametrize("min_probability", [0.3, 0.1, 0.02])
def test_completions_sorted_and_bounded(stub, identity_adapter, identity_prompts,
                                                                      adapter, min_probability):
    adapter_id = identity_adapter if adapter == "identity" else ""
    prompts = [prompt_ids for prompt_ids, _ in identity_prompts]

    results = _decode(stub, decode_request(prompts, adapter_id=adapter_id, min_probability=min_probability,
                                           max_new_tokens=8))

    max_completions = math.ceil(1 / min_probability) - 1
    for result in results.values():
        completions = list(result.completions)
        assert 1 <= len(completions) <= max_completions
        assert [c.nll for c in completions] == sorted(c.nll for c in completions)
        for completion in completions:
            assert len(completion.token_ids) <= 8
            if not completion.greedy:
                assert completion.token_ids[-1] == IM_END
                assert completion.nll < -math.log(min_probability)
                assert completion.stop_reason == sidecar_pb2.STOP_REASON_EOS


@pytest.mark.parametrize("adapter", ["base", "identity"])
def test_decode_nll_equals_score_nll(stub, identity_adapter, identity_prompts, adapter):
    adapter_id = identity_adapter if adapter == "identity" else ""
    prompts = [prompt_ids for prompt_ids, _ in identity_prompts]
    results = _decode(stub, decode_request(prompts, adapter_id=adapter_id, min_probability=0.02, max_new_tokens=8))
    completions = [(index, c) for index, result in results.items() for c in result.completions]

    pairs = [(prompts[index], list(c.token_ids)) for index, c in completions]
    score_nll = stub.Score(score_request(pairs, adapter_id=adapter_id, batch_size=5), timeout=60).nll

    assert len(score_nll) == len(completions)
    for (_, completion), scored in zip(completions, score_nll):
        assert completion.nll == pytest.approx(scored, abs=NLL_TOLERANCE)


def _reference_search(stub, adapter_id, prompt_ids, allowed, max_nll, max_new_tokens) -> dict[tuple[int, ...], float]:
    """Every completion under max_nll, found breadth-first with one Score call per depth."""
    found = {}
    frontier: list[list[int]] = [[]]
    for depth in range(max_new_tokens):
        candidates = [prefix + [token] for prefix in frontier for token in allowed]
        request = score_request([(prompt_ids, c) for c in candidates], adapter_id=adapter_id, batch_size=16)
        nll = stub.Score(request, timeout=120).nll
        frontier = []
        for candidate, value in zip(candidates, nll):
            if value >= max_nll:
                continue
            if candidate[-1] == IM_END:
                found[tuple(candidate)] = value
            elif depth + 1 < max_new_tokens:
                frontier.append(candidate)
        if not frontier:
            break
    return found


def test_dfs_matches_reference_search(stub, identity_adapter):
    # Test inputs of shapes never trained on (1x1, 3x3) leave the fitted model unsure, so
    # the search trees branch. The two 1x1 prompts share a batch and explore in lock-step.
    allowed = list(range(11)) + [IM_END]
    min_probability, max_new_tokens = 0.01, 13
    max_nll = -math.log(min_probability)
    demonstrations = [([[1, 2], [3, 0]], [[1, 2], [3, 0]])]
    prompts = [prompt(demonstrations, [[2]]), prompt(demonstrations, [[1, 2, 3], [0, 1, 2], [3, 0, 1]]),
               prompt(demonstrations, [[3]])]

    results = _decode(stub, decode_request(prompts, adapter_id=identity_adapter, allowed_token_ids=allowed,
                                           min_probability=min_probability, max_new_tokens=max_new_tokens, batch_size=2))

    for index, prompt_ids in enumerate(prompts):
        expected = _reference_search(stub, identity_adapter, prompt_ids, allowed, max_nll, max_new_tokens)
        decoded = {tuple(c.token_ids): c.nll for c in results[index].completions if not c.greedy}
        assert len(expected) >= 2, "the reference search found too few completions to compare; lower min_probability"
        # Completions within rounding distance of the threshold may fall on either side.
        for tokens in set(expected) ^ set(decoded):
            nll = expected.get(tokens, decoded.get(tokens))
            assert abs(nll - max_nll) < NLL_TOLERANCE, f"prompt {index}: {tokens} nll {nll} found by one search only"


def test_token_logprobs_sum_to_minus_nll(stub, identity_adapter, identity_prompts):
    prompts = [prompt_ids for prompt_ids, _ in identity_prompts]

    results = _decode(stub, decode_request(prompts, adapter_id=identity_adapter, min_probability=0.05,
                                           return_token_logprobs=True))

    for result in results.values():
        for completion in result.completions:
            assert len(completion.token_logprobs) == len(completion.token_ids)
            assert -sum(completion.token_logprobs) == pytest.approx(completion.nll, abs=1e-5)


def test_logprobs_are_left_out_unless_requested(stub, identity_adapter, identity_prompts):
    results = _decode(stub, decode_request([identity_prompts[0][0]], adapter_id=identity_adapter))

    assert all(len(completion.token_logprobs) == 0 for completion in results[0].completions)


def test_mixed_lengths_one_result_each(stub, identity_adapter):
    rng = random.Random(5)
    demonstrations = [([[1, 2], [3, 0]], [[1, 2], [3, 0]])]
    prompts = [prompt(demonstrations, random_grid(rng, rows, 2, 4)) for rows in (2, 1, 2, 1, 2)]

    results = list(stub.Decode(decode_request(prompts, adapter_id=identity_adapter, batch_size=2), timeout=120))

    assert sorted(result.prompt_index for result in results) == [0, 1, 2, 3, 4]
    assert all(result.forward_steps >= 1 for result in results)
    assert all(result.device_seconds > 0 for result in results)


def test_time_limit_returns_partial_greedy(stub):
    # Replies of 600 ones and no end token: the fitted model keeps emitting 1 with high
    # probability, so the search dives far deeper than the time limit allows.
    rng = random.Random(6)
    sequences = []
    for _ in range(4):
        context = user_turn(random_grid(rng, 1, 2, 4)) + assistant_header()
        sequences.append((context + [1] * 600, [0] * len(context) + [1] * 600))
    adapter_id = train(stub, ttft_request(sequences, request_id="fit-ones", epochs=5))[-1].adapter_id
    test_prompt = user_turn([[2, 3]]) + assistant_header()

    results = _decode(stub, decode_request([test_prompt], adapter_id=adapter_id, max_new_tokens=7000,
                                           max_seconds_per_prompt=0.5, min_probability=0.2))

    completions = list(results[0].completions)
    assert len(completions) == 1
    assert completions[0].greedy
    assert completions[0].stop_reason == sidecar_pb2.STOP_REASON_TIME_LIMIT
    assert 0 < len(completions[0].token_ids) < 7000
    assert IM_END not in completions[0].token_ids
    stub.ReleaseAdapter(sidecar_pb2.ReleaseAdapterRequest(adapter_id=adapter_id), timeout=30)


def test_released_adapter_is_not_found(stub):
    sequences = identity_sequences(random.Random(7), count=1, pairs=1)
    adapter_id = train(stub, ttft_request(sequences, request_id="to-release"))[-1].adapter_id
    probe = prompt([], [[1, 2]])

    released = stub.ReleaseAdapter(sidecar_pb2.ReleaseAdapterRequest(adapter_id=adapter_id), timeout=30)
    with pytest.raises(grpc.RpcError) as decode_error:
        _decode(stub, decode_request([probe], adapter_id=adapter_id))
    with pytest.raises(grpc.RpcError) as score_error:
        stub.Score(score_request([(probe, [1, 2, IM_END])], adapter_id=adapter_id), timeout=30)
    released_again = stub.ReleaseAdapter(sidecar_pb2.ReleaseAdapterRequest(adapter_id=adapter_id), timeout=30)

    assert released.released
    assert decode_error.value.code() == grpc.StatusCode.NOT_FOUND
    assert adapter_id in decode_error.value.details()
    assert score_error.value.code() == grpc.StatusCode.NOT_FOUND
    assert not released_again.released


DECODE_INVALID_CASES = [
    ("end token not allowed", dict(allowed_token_ids=[0, 1, 10]), "eos_token_id"),
    ("probability zero", dict(min_probability=0.0), "min_probability"),
    ("probability one", dict(min_probability=1.0), "min_probability"),
    ("no new tokens", dict(max_new_tokens=0), "max_new_tokens"),
    ("batch size zero", dict(batch_size=0), "batch_size"),
    ("allowed id out of range", dict(allowed_token_ids=[0, 16, 15]), "allowed_token_ids[1]=16"),
    # prompts[0] has 8 tokens and fits in 8,192 with this budget; prompts[1] has 10 and does not.
    ("prompt plus budget too long", dict(max_new_tokens=8184), "prompts[1] plus max_new_tokens"),
    ("negative time limit", dict(max_seconds_per_prompt=-1.0), "max_seconds_per_prompt"),
]


@pytest.mark.parametrize(("case", "overrides", "detail"), DECODE_INVALID_CASES,
                         ids=[case[0] for case in DECODE_INVALID_CASES])
def test_invalid_decode_request_is_invalid_argument(stub, case, overrides, detail):
    prompts = [[14, 11, 10, 1, 15, 14, 12, 10], [14, 11, 10, 1, 10, 2, 15, 14, 12, 10]]

    with pytest.raises(grpc.RpcError) as raised:
        _decode(stub, decode_request(prompts, **overrides))

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert detail in raised.value.details()


def test_invalid_score_item_names_it(stub):
    pairs = [([14, 11, 10, 1, 15], [1, IM_END]), ([14, 11, 10, 1, 15], [])]

    with pytest.raises(grpc.RpcError) as raised:
        stub.Score(score_request(pairs), timeout=30)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "items[1].completion_token_ids" in raised.value.details()


def test_dialog_helper_matches_worked_example():
    # Worked example of the dialog format: input [[1,2,3],[4,5,6]], output [[7,8],[9,0]].
    expected = [14, 11, 10, 1, 2, 3, 10, 4, 5, 6, 15, 14, 12, 10, 7, 8, 10, 9, 0, 15]
    assert user_turn([[1, 2, 3], [4, 5, 6]]) + assistant_header() + reply([[7, 8], [9, 0]]) == expected
    assert grid_tokens([[1]]) == [1]
