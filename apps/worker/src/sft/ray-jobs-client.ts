// A client of the Ray Jobs REST API that the Ray dashboard serves (ray[default] 2.60).
import http from "node:http";
import https from "node:https";

/** Job states of the Ray Jobs API. */
export type RayJobStatus = "PENDING" | "RUNNING" | "STOPPED" | "SUCCEEDED" | "FAILED";

/** States after which a Ray job never runs again. */
export const TERMINAL_RAY_STATUSES: ReadonlySet<RayJobStatus> = new Set(["STOPPED", "SUCCEEDED", "FAILED"]);

/** The fields of GET /api/jobs/{id} this worker reads. */
export interface RayJobInfo {
  submissionId: string;
  status: RayJobStatus;
  /** Ray's explanation of the status, e.g. why a job failed. */
  message: string;
  /** Submission and end times, in milliseconds since the epoch, on the head node's clock. */
  startTimeMs: number | null;
  endTimeMs: number | null;
  metadata: Record<string, string>;
}

/** A job to submit; Ray runs `entrypoint` in a shell on the head node. */
export interface RayJobSubmission {
  submissionId: string;
  entrypoint: string;
  /** CPUs the entrypoint itself reserves; 0 leaves every CPU to the actors it starts. */
  entrypointNumCpus: number;
  /** String key-value pairs stored with the job and returned by GET. */
  metadata: Record<string, string>;
}

/** A request to the Ray dashboard that failed: unreachable, timed out, or rejected with an error status. */
export class RayJobsApiError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = "RayJobsApiError";
  }
}

/** Milliseconds one HTTP request to the dashboard may take; log reads of long runs are the slowest. */
const REQUEST_TIMEOUT_MS = 30_000;

/** Calls the Ray Jobs REST API at a dashboard address such as http://ray-head:8265. */
export class RayJobsClient {
  private readonly base: string;

  constructor(address: string) {
    this.base = address.replace(/\/+$/, "");
  }

  /** Submits a job. Returns false, without submitting, when a job with this submission id exists. */
  async submitJob(job: RayJobSubmission): Promise<boolean> {
    const body = { submission_id: job.submissionId, entrypoint: job.entrypoint, entrypoint_num_cpus: job.entrypointNumCpus, metadata: job.metadata };
    const response = await this.request("POST", "/api/jobs/", body);
    if (isOk(response)) return true;
    // Ray 2.60 rejects a duplicate submission id with status 500 and a traceback naming it.
    if (/already exists/.test(response.text)) return false;
    throw new RayJobsApiError(`POST ${this.base}/api/jobs/ for ${job.submissionId} failed with HTTP ${response.status}: ${lastLine(response.text)}`, response.status);
  }

  /** Returns the job, or null when the cluster has no job with this submission id. */
  async getJob(submissionId: string): Promise<RayJobInfo | null> {
    const response = await this.request("GET", `/api/jobs/${encodeURIComponent(submissionId)}`);
    if (response.status === 404) return null;
    const body = await this.json(response, `GET job ${submissionId}`);
    return {
      submissionId,
      status: body.status,
      message: body.message ?? "",
      startTimeMs: body.start_time || null,
      endTimeMs: body.end_time || null,
      metadata: body.metadata ?? {},
    };
  }

  /** Returns the job's whole log (the entrypoint's stdout and stderr) so far. */
  async getLogs(submissionId: string): Promise<string> {
    const response = await this.request("GET", `/api/jobs/${encodeURIComponent(submissionId)}/logs`);
    const body = await this.json(response, `GET logs of ${submissionId}`);
    return typeof body.logs === "string" ? body.logs : "";
  }

  /**
   * Asks Ray to stop the job: its entrypoint gets SIGTERM, then SIGKILL, and the actors
   * it owns end with it. Returns false for a job that is unknown or already finished.
   */
  async stopJob(submissionId: string): Promise<boolean> {
    const response = await this.request("POST", `/api/jobs/${encodeURIComponent(submissionId)}/stop`);
    if (response.status === 404) return false;
    const body = await this.json(response, `stop ${submissionId}`);
    return body.stopped === true;
  }

  /**
   * Sends one request with node:http. The global fetch is not used: it always sends
   * `Sec-Fetch-Mode`, and the dashboard rejects POSTs that carry `Sec-Fetch-*` headers
   * as browser traffic (HTTP 405).
   */
  private request(method: string, path: string, body?: unknown): Promise<HttpResponse> {
    const url = new URL(`${this.base}${path}`);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const transport = url.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
      const fail = (reason: string) => reject(new RayJobsApiError(`${method} ${url} failed: ${reason}. Check that NVARC_RAY_ADDRESS names the Ray dashboard and that it is up.`));
      const outgoing = transport.request(url, {
        method,
        headers: payload === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
        timeout: REQUEST_TIMEOUT_MS,
      }, (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
        incoming.on("end", () => resolve({ status: incoming.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        incoming.on("error", (error) => fail(error.message));
      });
      outgoing.on("timeout", () => outgoing.destroy(new Error(`no reply within ${REQUEST_TIMEOUT_MS} ms`)));
      outgoing.on("error", (error) => fail(error.message));
      outgoing.end(payload);
    });
  }

  private json(response: HttpResponse, operation: string): any {
    if (!isOk(response)) throw new RayJobsApiError(`${operation} at ${this.base} failed with HTTP ${response.status}: ${lastLine(response.text)}`, response.status);
    try {
      return JSON.parse(response.text);
    } catch {
      throw new RayJobsApiError(`${operation} at ${this.base} returned a body that is not JSON: ${response.text.slice(0, 200)}`, response.status);
    }
  }
}

interface HttpResponse {
  status: number;
  text: string;
}

function isOk(response: HttpResponse): boolean {
  return response.status >= 200 && response.status < 300;
}

/** Returns the last non-empty line of an error body (Ray's tracebacks end with the error itself). */
function lastLine(text: string): string {
  const lines = text.split("\n").map((line) => line.trim()).filter((line) => line !== "" && line !== ".");
  return (lines.at(-1) ?? "").slice(0, 500);
}
