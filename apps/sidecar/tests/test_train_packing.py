"""SFT building blocks in-process: packed attention, learning-rate schedule, data order."""

import random
from pathlib import Path

import pytest
import torch

from nvarc_sidecar.sft.artifact import PackedSequence, open_artifact, read_shard
from nvarc_sidecar.sft.data_order import iterate_steps, steps_per_epoch
from nvarc_sidecar.sft.model_loading import load_trainable_model
from nvarc_sidecar.sft.packing import collate, count_targets, split_segments
from nvarc_sidecar.sft.schedule import learning_rate_at
from nvarc_sidecar.sft.settings import resolve_settings
from nvarc_sidecar.sft.trainer import _target_nll_sum
from nvarc_sidecar.protos import sidecar_pb2
from sft_artifact import copy_artifact, copy_samples


def test_packed_logits_match_each_sample_alone(test_model_dir):
    model = load_trainable_model(test_model_dir, torch.float32, torch.device("cpu")).eval()
    samples = copy_samples(random.Random(5), 3)
    packed = PackedSequence(
        token_ids=[token for ids, _ in samples for token in ids],
        loss_mask=[value for _, mask in samples for value in mask],
        segment_lengths=[len(ids) for ids, _ in samples],
    )
    short = PackedSequence(token_ids=samples[0][0], loss_mask=samples[0][1], segment_lengths=[len(samples[0][0])])
    batch = collate([packed, short], torch.float32, torch.device("cpu"))

    with torch.no_grad():
        packed_logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                              position_ids=batch.position_ids).logits
        start = 0
        for ids, _ in samples:
            alone = model(input_ids=torch.tensor([ids])).logits[0]
            torch.testing.assert_close(packed_logits[0, start:start + len(ids)], alone, rtol=1e-4, atol=1e-4)
            start += len(ids)
        # The padded second row matches the same sample without padding.
        alone = model(input_ids=torch.tensor([samples[0][0]])).logits[0]
        torch.testing.assert_close(packed_logits[1, :len(samples[0][0])], alone, rtol=1e-4, atol=1e-4)


def test_targets_skip_segment_starts_and_padding():
    sequence = PackedSequence(token_ids=[14, 1, 15, 14, 2, 15], loss_mask=[1, 1, 1, 1, 1, 1], segment_lengths=[3, 3])
    short = PackedSequence(token_ids=[14, 3], loss_mask=[0, 1], segment_lengths=[2])

    batch = collate([sequence, short], torch.float32, torch.device("cpu"))

    assert batch.target_mask.tolist() == [[True, True, False, True, True], [True, False, False, False, False]]
    assert count_targets([sequence, short]) == int(batch.target_mask.sum())
    assert batch.position_ids.tolist() == [[0, 1, 2, 0, 1, 2], [0, 1, 0, 1, 2, 3]]
    assert batch.token_count == 8


def test_split_segments_match_packed_gradient(test_model_dir):
    model = load_trainable_model(test_model_dir, torch.float32, torch.device("cpu"))
    samples = copy_samples(random.Random(11), 4)
    sequence = PackedSequence(
        token_ids=[token for ids, _ in samples for token in ids],
        loss_mask=[value for _, mask in samples for value in mask],
        segment_lengths=[len(ids) for ids, _ in samples],
    )

    def loss_and_gradient(batches):
        model.zero_grad(set_to_none=True)
        total = sum(_target_nll_sum(model, batch) for batch in batches)
        total.backward()
        return total.item(), [parameter.grad.clone() for parameter in model.parameters()]

    packed_loss, packed_grads = loss_and_gradient([collate([sequence], torch.float32, torch.device("cpu"))])
    segments = split_segments(sequence, torch.device("cpu"))
    split_loss, split_grads = loss_and_gradient(segments)

    assert len(segments) == 4 and all(batch.attention_mask is None for batch in segments)
    assert sum(int(batch.target_mask.sum()) for batch in segments) == count_targets([sequence])
    assert sum(batch.token_count for batch in segments) == len(sequence.token_ids)
    assert split_loss == pytest.approx(packed_loss, rel=1e-5)
    for packed, split in zip(packed_grads, split_grads):
        torch.testing.assert_close(split, packed, rtol=1e-4, atol=1e-5)


def test_schedule_warms_up_then_decays_to_minimum():
    settings = resolve_settings(sidecar_pb2.TrainHyperparameters(learning_rate=1e-3, min_learning_rate=1e-5,
                                                                 warmup_steps=4, max_steps=10))
    rates = [learning_rate_at(step, settings, 10) for step in range(10)]

    assert rates[0] == pytest.approx(1e-5 + (1e-3 - 1e-5) / 4)
    assert rates[3] == pytest.approx(1e-3)
    assert rates[9] == pytest.approx(1e-5)
    assert all(later < earlier for earlier, later in zip(rates[3:], rates[4:]))


def test_data_order_visits_each_sequence_once_per_epoch(tmp_path: Path):
    artifact = open_artifact(copy_artifact(tmp_path, "order", seed=3, samples=60, pack_max_tokens=100,
                                           sequences_per_shard=7))
    per_epoch = steps_per_epoch(artifact, 3)
    steps = iterate_steps(artifact, seed=9, sequences_per_step=3, start_step=0, max_seq_len=8192)
    epoch = [tuple(sequence.token_ids) for _ in range(per_epoch) for sequence in next(steps)]

    stored = {tuple(sequence.token_ids) for shard in artifact.shards for sequence in read_shard(shard, 8192)}
    assert len(epoch) == per_epoch * 3
    assert len(set(epoch)) == len(epoch)
    assert set(epoch) <= stored
    resumed = iterate_steps(artifact, seed=9, sequences_per_step=3, start_step=per_epoch + 2, max_seq_len=8192)
    for _ in range(2):
        next(steps)
    assert [s.token_ids for s in next(steps)] == [s.token_ids for s in next(resumed)]
    other_seed = iterate_steps(artifact, seed=10, sequences_per_step=3, start_step=0, max_seq_len=8192)
    assert [tuple(s.token_ids) for _ in range(per_epoch) for s in next(other_seed)] != epoch
