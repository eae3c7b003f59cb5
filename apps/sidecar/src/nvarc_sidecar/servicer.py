"""gRPC handlers of `nvarc.sidecar.v1.Sidecar`: request conversion, the model lock, status codes, call logs."""

from collections.abc import Callable, Iterator
from typing import TypeVar

import grpc

from nvarc_sidecar.call_guard import CallGuard
from nvarc_sidecar.call_log import CallLog
from nvarc_sidecar.completion import Completion
from nvarc_sidecar.decode import DecodeSettings, PromptResult, decode_prompts, validate_decode
from nvarc_sidecar.config import MAX_MESSAGE_BYTES_VAR
from nvarc_sidecar.errors import CancelledError, ResourceExhaustedError, SidecarError
from nvarc_sidecar.lora import LoraSettings
from nvarc_sidecar.model_store import DeviceClock, LoadedModel, ModelStore
from nvarc_sidecar.protos import sidecar_pb2, sidecar_pb2_grpc
from nvarc_sidecar.scoring import ScoreItem, score_items, validate_items
from nvarc_sidecar.sft.requests import train_job
from nvarc_sidecar.sft.trainer import train
from nvarc_sidecar.ttft import OptimizerSettings, TrainingSequence, fine_tune

Reply = TypeVar("Reply")


class SidecarServicer(sidecar_pb2_grpc.SidecarServicer):
    """Implements the Sidecar service over one ModelStore; every call runs under the model lock."""

    def __init__(self, store: ModelStore, max_message_bytes: int) -> None:
        self._store = store
        self._max_message_bytes = max_message_bytes

    def LoadModel(self, request, context):  # noqa: N802 - name fixed by the proto
        call = CallLog("LoadModel")

        def body(guard: CallGuard, clock: DeviceClock) -> sidecar_pb2.LoadModelReply:
            loaded = self._store.load(request.model_path, request.dtype)
            return _load_model_reply(request.model_path, loaded, clock)

        return self._unary(call, context, body)

    def TestTimeFineTune(self, request, context):  # noqa: N802
        call = CallLog("TestTimeFineTune", request_id=request.request_id)
        sequences = [TrainingSequence(list(s.token_ids), list(s.loss_mask)) for s in request.sequences]
        preset = request.preset
        lora = LoraSettings(rank=preset.rank, alpha=preset.alpha, dropout=preset.dropout, use_rslora=preset.use_rslora,
                            target_modules=tuple(preset.target_modules), seed=preset.seed)
        optimizer = OptimizerSettings(
            learning_rate=preset.learning_rate, warmup_ratio=preset.warmup_ratio, weight_decay=preset.weight_decay,
            max_grad_norm=preset.max_grad_norm, epochs=preset.epochs, torch_threads=preset.torch_threads,
            progress_every_steps=request.progress_every_steps,
        )

        def body(guard: CallGuard, clock: DeviceClock) -> Iterator[sidecar_pb2.TestTimeFineTuneUpdate]:
            for update in fine_tune(self._store.require(), sequences, lora, optimizer, guard):
                call.adapter_id = update.adapter_id
                yield sidecar_pb2.TestTimeFineTuneUpdate(
                    step=update.step, total_steps=update.total_steps, loss=update.loss, done=update.done,
                    adapter_id=update.adapter_id, device_seconds=clock.seconds(),
                    trainable_parameters=update.trainable_parameters,
                )

        return self._stream(call, context, body)

    def Decode(self, request, context):  # noqa: N802
        call = CallLog("Decode", request_id=request.request_id, adapter_id=request.adapter_id)
        prompts = [list(prompt.token_ids) for prompt in request.prompts]
        settings = DecodeSettings(
            allowed_token_ids=tuple(request.allowed_token_ids), eos_token_id=request.eos_token_id,
            min_probability=request.min_probability, max_new_tokens=request.max_new_tokens,
            batch_size=request.batch_size, max_seconds_per_prompt=request.max_seconds_per_prompt,
        )

        def body(guard: CallGuard, clock: DeviceClock) -> Iterator[sidecar_pb2.DecodeResult]:
            loaded = self._store.require()
            validate_decode(prompts, settings, loaded.max_seq_len)
            with loaded.adapters.use(request.adapter_id) as model:
                for result in decode_prompts(model, loaded.device, prompts, settings, guard):
                    yield _decode_result(result, request.return_token_logprobs, clock)

        return self._stream(call, context, body)

    def Score(self, request, context):  # noqa: N802
        call = CallLog("Score", request_id=request.request_id, adapter_id=request.adapter_id)
        items = [ScoreItem(list(item.prompt_token_ids), list(item.completion_token_ids)) for item in request.items]

        def body(guard: CallGuard, clock: DeviceClock) -> sidecar_pb2.ScoreReply:
            loaded = self._store.require()
            validate_items(items, request.batch_size, loaded.max_seq_len)
            with loaded.adapters.use(request.adapter_id) as model:
                nll = score_items(model, loaded.device, items, request.batch_size, guard)
            return sidecar_pb2.ScoreReply(nll=nll, device_seconds=clock.seconds())

        return self._unary(call, context, body)

    def ReleaseAdapter(self, request, context):  # noqa: N802
        call = CallLog("ReleaseAdapter", adapter_id=request.adapter_id)

        def body(guard: CallGuard, clock: DeviceClock) -> sidecar_pb2.ReleaseAdapterReply:
            # With no model loaded no adapter exists, so the release succeeds with released false.
            loaded = self._store.current()
            released = loaded is not None and loaded.adapters.release(request.adapter_id)
            return sidecar_pb2.ReleaseAdapterReply(released=released, device_seconds=clock.seconds())

        return self._unary(call, context, body)

    def Train(self, request, context):  # noqa: N802
        call = CallLog("Train", request_id=request.request_id)

        def body(guard: CallGuard, clock: DeviceClock) -> Iterator[sidecar_pb2.TrainUpdate]:
            job = train_job(request, self._store.resolve_path)
            for progress in train(job, guard):
                yield sidecar_pb2.TrainUpdate(
                    step=progress.step, total_steps=progress.total_steps, loss=progress.loss,
                    learning_rate=progress.learning_rate, tokens_seen=progress.tokens_seen,
                    device_seconds=clock.seconds(), checkpoint_path=progress.checkpoint_path, done=progress.done,
                    final_model_path=progress.final_model_path, resumed_from_step=progress.resumed_from_step,
                )

        return self._stream(call, context, body)

    def _unary(self, call: CallLog, context: grpc.ServicerContext,
               body: Callable[[CallGuard, DeviceClock], Reply]) -> Reply:
        guard = CallGuard(context)
        try:
            with self._store.lock.hold(guard) as clock:
                call.start(clock)
                reply = body(guard, clock)
                self._check_size(call, reply)
        except SidecarError as error:
            call.finish(error.code, error.message)
            context.abort(error.code, error.message)
        except Exception as error:  # noqa: BLE001 - any other fault must still end the call with a status
            message = f"{call.method} failed: {type(error).__name__}: {error}"
            call.finish(grpc.StatusCode.INTERNAL, message, exc_info=True)
            context.abort(grpc.StatusCode.INTERNAL, message)
        call.finish(grpc.StatusCode.OK)
        return reply

    def _stream(self, call: CallLog, context: grpc.ServicerContext,
                body: Callable[[CallGuard, DeviceClock], Iterator[Reply]]) -> Iterator[Reply]:
        guard = CallGuard(context)
        try:
            with self._store.lock.hold(guard) as clock:
                call.start(clock)
                for reply in body(guard, clock):
                    self._check_size(call, reply)
                    yield reply
        except GeneratorExit:
            # gRPC closes the generator when the call ends (cancelled, deadline passed)
            # while it is suspended at a yield.
            error = CancelledError("the call ended before all replies were sent; work stopped")
            call.finish(error.code, error.message)
            raise
        except SidecarError as error:
            call.finish(error.code, error.message)
            context.abort(error.code, error.message)
        except Exception as error:  # noqa: BLE001
            message = f"{call.method} failed: {type(error).__name__}: {error}"
            call.finish(grpc.StatusCode.INTERNAL, message, exc_info=True)
            context.abort(grpc.StatusCode.INTERNAL, message)
        else:
            call.finish(grpc.StatusCode.OK)

    def _check_size(self, call: CallLog, reply) -> None:
        """Raise RESOURCE_EXHAUSTED with the size, the limit and the fix before gRPC rejects the message."""
        size = reply.ByteSize()
        if size > self._max_message_bytes:
            raise ResourceExhaustedError(
                f"{call.method} reply {type(reply).__name__} is {size} bytes, above the {self._max_message_bytes}-byte "
                f"limit set by {MAX_MESSAGE_BYTES_VAR}; raise the limit on both ends, or request less per message "
                "(fewer tokens, no token log-probabilities)"
            )


def _load_model_reply(model_path: str, loaded: LoadedModel, clock: DeviceClock) -> sidecar_pb2.LoadModelReply:
    return sidecar_pb2.LoadModelReply(
        model_path=model_path,
        tokens=[sidecar_pb2.TokenEntry(text=entry.text, id=entry.id) for entry in loaded.tokens],
        max_seq_len=loaded.max_seq_len,
        parameter_count=loaded.parameter_count,
        architecture=loaded.architecture,
        device=str(loaded.device),
        dtype=loaded.dtype_name,
        device_seconds=clock.seconds(),
    )


def _decode_result(result: PromptResult, with_logprobs: bool, clock: DeviceClock) -> sidecar_pb2.DecodeResult:
    return sidecar_pb2.DecodeResult(
        prompt_index=result.prompt_index,
        completions=[_completion(completion, with_logprobs) for completion in result.completions],
        forward_steps=result.forward_steps,
        device_seconds=clock.seconds(),
    )


def _completion(completion: Completion, with_logprobs: bool) -> sidecar_pb2.Completion:
    return sidecar_pb2.Completion(
        token_ids=completion.token_ids,
        nll=completion.nll,
        stop_reason=int(completion.stop_reason),
        greedy=completion.greedy,
        token_logprobs=completion.token_logprobs if with_logprobs else (),
    )
