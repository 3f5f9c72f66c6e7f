// Batches of releases on a long-lived OpenSecretsStream call instead of a
// unary OpenSecretsBatch each: no new HTTP/2 stream, headers, trailers and
// grpc-js call per batch, on either side (the gateway's executions moved to
// streams for the same reason: gateway/sandbox/streams.ts).
//
// What a unary call's failure meant holds: a batch the call ended with
// unanswered may have been released at a broker that died, so it fails as
// UNAVAILABLE and is never sent again with its grants (SecretsSource answers
// the run as lost); one a broker answered untaken (it was stopping), or that
// a call ending cleanly left unanswered, was never looked at and goes on
// another call. Batches take the open calls in turn; each call is placed by
// the channel's balancing, and takes new batches for about
// STREAM_MAX_AGE_MS, so that releases spread over the brokers and follow
// them as they come and go.
import * as grpc from "@grpc/grpc-js";
import type {
  OpenSecretsOutcome,
  OpenSecretsRequest,
  OpenSecretsStreamRequest,
  OpenSecretsStreamResponse,
  SecretBrokerClient,
} from "../../proto/gen/secutils/broker/v1/broker.js";

/** Calls open at once, which batches take in turn: several, so that the balancing places them on several brokers. */
export const STREAMS = 4;
/** A call takes new batches for about this long (±25%), then ends once they have answered. */
export const STREAM_MAX_AGE_MS = 2_000;

interface Pending {
  requests: OpenSecretsRequest[];
  deadline: number;
  resolve(outcomes: OpenSecretsOutcome[]): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

interface OpenCall {
  call: grpc.ClientDuplexStream<OpenSecretsStreamRequest, OpenSecretsStreamResponse>;
  pending: Map<number, Pending>;
  retireAt: number;
  retired: boolean;
}

/** A failure shaped as grpc-js's, which SecretsSource reads by its code. */
const failure = (code: grpc.status, details: string): Error => Object.assign(new Error(details), { code, details });

export class ReleaseStreams {
  private readonly calls: Array<OpenCall | undefined> = Array.from({ length: STREAMS }, () => undefined);
  private turn = 0;
  private nextId = 1;

  constructor(private readonly client: SecretBrokerClient) {}

  /**
   * The batch's outcomes, in order. Rejects with UNAVAILABLE when the call
   * broke with the batch unanswered (it may have been released), or with
   * DEADLINE_EXCEEDED when no broker answered by `deadline` (epoch ms).
   */
  send(requests: OpenSecretsRequest[], deadline: number): Promise<OpenSecretsOutcome[]> {
    return new Promise((resolve, reject) => this.write({ requests, deadline, resolve, reject }));
  }

  private write(p: Omit<Pending, "timer">): void {
    // Given up already (a batch coming back from a call that ended): never sent.
    if (p.deadline <= Date.now()) return p.reject(failure(grpc.status.DEADLINE_EXCEEDED, "no broker answered in time"));
    const open = this.open();
    const id = this.nextId++;
    const timer = setTimeout(() => {
      if (!open.pending.delete(id)) return;
      p.reject(failure(grpc.status.DEADLINE_EXCEEDED, "no broker answered in time"));
      // A call still waiting for a broker would deliver the batch when one
      // comes back, long after it was given up: that call goes, and what is
      // pending on it fails as lost.
      this.retire(open);
      open.call.cancel();
    }, Math.max(p.deadline - Date.now(), 0));
    open.pending.set(id, { ...p, timer });
    open.call.write({ id, requests: p.requests });
  }

  /** The call whose turn it is, opened when there is none or it is too old. */
  private open(): OpenCall {
    const slot = this.turn++ % STREAMS;
    const now = Date.now();
    const current = this.calls[slot];
    if (current && !current.retired && now < current.retireAt) return current;
    if (current) this.retire(current);
    // A broker being restarted is waited for (grpc-js reads waitForReady from the metadata's options).
    const call = this.client.openSecretsStream(new grpc.Metadata({ waitForReady: true }));
    const open: OpenCall = { call, pending: new Map(), retireAt: now + STREAM_MAX_AGE_MS * (0.75 + Math.random() / 2), retired: false };
    call.on("data", (m: OpenSecretsStreamResponse) => {
      const p = open.pending.get(m.id);
      if (!p) return;
      open.pending.delete(m.id);
      clearTimeout(p.timer);
      if (!m.untaken) return p.resolve(m.outcomes);
      // The broker is stopping and did not look at it: another call.
      this.retire(open);
      this.write(p);
    });
    call.on("status", (status: grpc.StatusObject) => {
      this.retire(open);
      for (const p of open.pending.values()) {
        clearTimeout(p.timer);
        // Ended cleanly, the broker had answered everything it took.
        if (status.code === grpc.status.OK) this.write(p);
        else p.reject(failure(grpc.status.UNAVAILABLE, status.details));
      }
      open.pending.clear();
    });
    // The status above says how it ended.
    call.on("error", () => {});
    this.calls[slot] = open;
    return open;
  }

  /** Takes no new batches; half-closed, the broker ends it once it has answered the ones it took. */
  private retire(open: OpenCall): void {
    if (open.retired) return;
    open.retired = true;
    const slot = this.calls.indexOf(open);
    if (slot >= 0) this.calls[slot] = undefined;
    open.call.end();
  }

  close(): void {
    for (const open of this.calls) if (open) this.retire(open);
  }
}
