"""Deterministic order of packed sequences: a function of the seed, the epoch and the step only.

Each epoch visits the shards in a seeded random order and the sequences of each shard
in a seeded random order, so only one shard is held in memory at a time. A position in
the run (an optimizer step) maps to a shard and an offset without
reading earlier shards, which is how a resumed run skips to where its checkpoint stopped.
"""

from collections.abc import Iterator

import torch

from nvarc_sidecar.sft.artifact import DatasetArtifact, PackedSequence, read_shard


def _permutation(count: int, *seed_parts: int) -> list[int]:
    # Mixing the parts into one 63-bit seed keeps every (seed, epoch, shard) stream distinct.
    mixed = 0
    for part in seed_parts:
        mixed = (mixed * 1_000_003 + part + 1) % (2**63 - 1)
    generator = torch.Generator().manual_seed(mixed)
    return torch.randperm(count, generator=generator).tolist()


def iterate_steps(artifact: DatasetArtifact, seed: int, sequences_per_step: int, start_step: int,
                  max_seq_len: int) -> Iterator[list[PackedSequence]]:
    """Yield the packed sequences of each optimizer step from `start_step` on, epoch after epoch, without end.

    An epoch has `artifact.sequence_count // sequences_per_step` steps; the sequences
    left over at the end of an epoch's order are skipped. Step s reads the sequences at
    offsets (s mod steps_per_epoch) * sequences_per_step onwards of epoch s div steps_per_epoch.
    """
    per_epoch = steps_per_epoch(artifact, sequences_per_step)
    epoch, step_in_epoch = divmod(start_step, per_epoch)
    while True:
        start = step_in_epoch * sequences_per_step
        ordered = _epoch_sequences(artifact, seed, epoch, start, per_epoch * sequences_per_step - start, max_seq_len)
        batch: list[PackedSequence] = []
        for sequence in ordered:
            batch.append(sequence)
            if len(batch) == sequences_per_step:
                yield batch
                batch = []
        epoch, step_in_epoch = epoch + 1, 0


def steps_per_epoch(artifact: DatasetArtifact, sequences_per_step: int) -> int:
    """Full optimizer steps in one pass over the artifact (0 when it has fewer sequences than one step)."""
    return artifact.sequence_count // sequences_per_step


def _epoch_sequences(artifact: DatasetArtifact, seed: int, epoch: int, offset: int, count: int,
                     max_seq_len: int) -> Iterator[PackedSequence]:
    """Yield `count` sequences of the epoch's order starting at `offset`, reading only the shards needed."""
    shard_order = _permutation(len(artifact.shards), seed, epoch)
    for shard_rank, shard_index in enumerate(shard_order):
        if count <= 0:
            return
        shard = artifact.shards[shard_index]
        if offset >= shard.sequences:
            offset -= shard.sequences
            continue
        sequences = read_shard(shard, max_seq_len)
        for row in _permutation(len(sequences), seed, epoch, shard_rank)[offset:offset + count]:
            yield sequences[row]
            count -= 1
        offset = 0
