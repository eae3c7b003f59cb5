"""Learning-rate schedule: linear warm-up, then linear decay to the minimum at the last step."""

from nvarc_sidecar.sft.settings import TrainSettings


def learning_rate_at(step_index: int, settings: TrainSettings, total_steps: int) -> float:
    """Return the learning rate of optimizer step `step_index` (0-based) of a run of `total_steps` steps.

    Warm-up rises linearly from min_learning_rate and reaches learning_rate at step
    warmup_steps - 1. Later steps fall linearly and reach min_learning_rate at the last
    step (total_steps - 1). The rate is a pure function of the step, so a resumed run
    needs no scheduler object to restore.
    """
    peak, floor = settings.learning_rate, settings.min_learning_rate
    warmup = settings.warmup_steps
    if step_index < warmup:
        return floor + (peak - floor) * (step_index + 1) / warmup
    decay_steps = total_steps - warmup
    if decay_steps <= 0:
        return peak
    progress = min(1.0, (step_index - warmup + 1) / decay_steps)
    return peak - (peak - floor) * progress
