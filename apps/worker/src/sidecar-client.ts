import * as grpc from "@grpc/grpc-js";
import {
  loadSidecarPackageDefinition,
  type DecodeRequest, type DecodeResult, type LoadModelReply, type LoadModelRequest,
  type ReleaseAdapterReply, type ScoreReply, type ScoreRequest,
  type TestTimeFineTuneRequest, type TestTimeFineTuneUpdate, type TrainRequest, type TrainUpdate,
} from "@nvarc/contracts";
import { SidecarCallError, toSidecarCallError } from "./sidecar-errors.ts";

export { SidecarCallError } from "./sidecar-errors.ts";

/** Settings of the connection to one sidecar. */
export interface SidecarClientOptions {
  /** host:port of the sidecar's gRPC server. */
  address: string;
  /** Largest message in bytes sent or received; the sidecar must use the same value. */
  maxMessageBytes: number;
  /** Sees every finished call: its method, wall seconds and error, if any (for metrics). */
  observe?: (method: string, seconds: number, error?: SidecarCallError) => void;
}

/** Per-call settings: every call has a deadline and can be cancelled. */
export interface CallOptions {
  /** Milliseconds from now until the call is abandoned with DEADLINE_EXCEEDED. */
  timeoutMs: number;
  /** Aborting cancels the call; the sidecar stops the work between steps. */
  signal?: AbortSignal;
}

type UnaryMethod = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<unknown>) => grpc.ClientUnaryCall;
type StreamMethod = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions) => grpc.ClientReadableStream<unknown>;

let sidecarConstructor: grpc.ServiceClientConstructor | undefined;

function loadConstructor(): grpc.ServiceClientConstructor {
  if (!sidecarConstructor) {
    const loaded = grpc.loadPackageDefinition(loadSidecarPackageDefinition()) as any;
    sidecarConstructor = loaded.nvarc.sidecar.v1.Sidecar as grpc.ServiceClientConstructor;
  }
  return sidecarConstructor;
}

/** Typed client of the inference sidecar (proto nvarc.sidecar.v1). */
export class SidecarClient {
  private readonly client: grpc.Client;

  constructor(private readonly options: SidecarClientOptions) {
    const Constructor = loadConstructor();
    this.client = new Constructor(options.address, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": options.maxMessageBytes,
      "grpc.max_send_message_length": options.maxMessageBytes,
    });
  }

  /** Loads a model directory; loading the model already loaded is cheap. */
  loadModel(request: LoadModelRequest, call: CallOptions): Promise<LoadModelReply> {
    return this.unary("LoadModel", request, call) as Promise<LoadModelReply>;
  }

  /** Trains an adapter and returns the final update; `onProgress` receives every update, the final one included. */
  async testTimeFineTune(request: TestTimeFineTuneRequest, call: CallOptions, onProgress?: (update: TestTimeFineTuneUpdate) => void): Promise<TestTimeFineTuneUpdate> {
    const updates = await this.stream("TestTimeFineTune", request, call, (update) => onProgress?.(update as TestTimeFineTuneUpdate));
    const final = (updates as TestTimeFineTuneUpdate[]).find((update) => update.done);
    if (!final) {
      throw new SidecarCallError("TestTimeFineTune", "protocol_error", "the stream ended without a final message naming the adapter", true);
    }
    return final;
  }

  /**
   * Runs supervised fine-tuning and returns the final update (the one with `done`);
   * `onUpdate` receives every update, the final one included.
   */
  async train(request: TrainRequest, call: CallOptions, onUpdate?: (update: TrainUpdate) => void): Promise<TrainUpdate> {
    const updates = await this.stream("Train", request, call, (update) => onUpdate?.(update as TrainUpdate));
    const final = (updates as TrainUpdate[]).find((update) => update.done);
    if (!final) {
      throw new SidecarCallError("Train", "protocol_error", "the stream ended without a final message naming the final model", true);
    }
    return final;
  }

  /** Runs DFS; results arrive per prompt and are returned in prompt order. */
  async decode(request: DecodeRequest, call: CallOptions): Promise<DecodeResult[]> {
    const results = (await this.stream("Decode", request, call)) as DecodeResult[];
    return [...results].sort((a, b) => a.promptIndex - b.promptIndex);
  }

  score(request: ScoreRequest, call: CallOptions): Promise<ScoreReply> {
    return this.unary("Score", request, call) as Promise<ScoreReply>;
  }

  releaseAdapter(adapterId: string, call: CallOptions): Promise<ReleaseAdapterReply> {
    return this.unary("ReleaseAdapter", { adapterId }, call) as Promise<ReleaseAdapterReply>;
  }

  /** Resolves once the channel is connected, or rejects after `timeoutMs`. */
  waitForReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.waitForReady(Date.now() + timeoutMs, (error) => (error ? reject(error) : resolve()));
    });
  }

  close(): void {
    this.client.close();
  }

  private unary(method: string, request: unknown, call: CallOptions): Promise<unknown> {
    return this.timed(method, () => this.unaryCall(method, request, call));
  }

  private stream(method: string, request: unknown, call: CallOptions, onMessage?: (message: unknown) => void): Promise<unknown[]> {
    return this.timed(method, () => this.streamCall(method, request, call, onMessage));
  }

  private async timed<T>(method: string, run: () => Promise<T>): Promise<T> {
    const startedAt = performance.now();
    try {
      const result = await run();
      this.options.observe?.(method, (performance.now() - startedAt) / 1000);
      return result;
    } catch (error) {
      this.options.observe?.(method, (performance.now() - startedAt) / 1000, error as SidecarCallError);
      throw error;
    }
  }

  private unaryCall(method: string, request: unknown, call: CallOptions): Promise<unknown> {
    const invoke = (this.client as any)[method].bind(this.client) as UnaryMethod;
    return new Promise((resolve, reject) => {
      if (call.signal?.aborted) return reject(cancelledError(method));

      const pending = invoke(request, new grpc.Metadata(), { deadline: Date.now() + call.timeoutMs }, (error, reply) => {
        call.signal?.removeEventListener("abort", onAbort);
        if (error) reject(toSidecarCallError(method, error, this.options.maxMessageBytes));
        else resolve(reply);
      });
      const onAbort = () => pending.cancel();
      call.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  private streamCall(method: string, request: unknown, call: CallOptions, onMessage?: (message: unknown) => void): Promise<unknown[]> {
    const invoke = (this.client as any)[method].bind(this.client) as StreamMethod;
    return new Promise((resolve, reject) => {
      if (call.signal?.aborted) return reject(cancelledError(method));

      const messages: unknown[] = [];
      const pending = invoke(request, new grpc.Metadata(), { deadline: Date.now() + call.timeoutMs });
      const onAbort = () => pending.cancel();
      call.signal?.addEventListener("abort", onAbort, { once: true });

      pending.on("data", (message) => {
        messages.push(message);
        onMessage?.(message);
      });
      pending.on("error", (error: grpc.ServiceError) => {
        call.signal?.removeEventListener("abort", onAbort);
        reject(toSidecarCallError(method, error, this.options.maxMessageBytes));
      });
      pending.on("end", () => {
        call.signal?.removeEventListener("abort", onAbort);
        resolve(messages);
      });
    });
  }
}

function cancelledError(method: string): SidecarCallError {
  return new SidecarCallError(method, "cancelled", "the call was cancelled before it started", false);
}
