// Executions over long-lived ExecuteStream calls instead of one unary call
// each. A unary call costs a new HTTP/2 stream with its headers, early
// headers and trailers, and a wake-up of each process for each; on an open
// stream an execution costs one message each way plus "started". At one
// connection the two crossings took 0.94 ms of a scripted request's 3.1 ms
// (docs/benchmarks.md), and a grpc-js round trip here 0.84-1.05 ms unary
// against 0.25 ms on a stream.
//
// The rules of the unary call hold: an execution is never sent twice once
// an instance may have started it; one the instance said it did not take
// (it was stopping, or the stream ended before it got there) goes to
// another stream. Each stream is one call, placed by the channel's policy
// over the healthy instances; executions are then spread by instance over
// the open streams (pick()), and streams are replaced every
// STREAM_MAX_AGE_MS, so that an instance that comes back gets its share
// again.
import * as grpc from "@grpc/grpc-js";
import { ANSWERED_TRAILER } from "../../common/script-errors.js";
import type {
  ExecuteRequest,
  ExecuteResponse,
  ExecuteStreamRequest,
  ExecuteStreamResponse,
  ScriptRunnerClient,
} from "../../proto/gen/secutils/sandbox/v1/sandbox.js";

/**
 * This many streams are kept open while executions come (see pick() for
 * which one an execution takes): several, so that the channel places them
 * on several instances and one large result holds up few others.
 */
export const MAX_STREAMS = 4;
/** Each stream takes new executions for about this long (±25%, so that they are not replaced all at once), then ends once they have answered. */
export const STREAM_MAX_AGE_MS = 2_000;
/** Tries for an execution that instances answered as not taken. */
const MAX_SENDS = 3;

/** The failure of one execution, shaped as grpc-js's error for a unary call. */
export interface ExecutionFailure extends grpc.ServiceError {
  /** The instance had started the run. */
  started?: true;
  /** The instance did not take it: another may. */
  untaken?: true;
}

function failureOf(code: grpc.status, details: string, how: { started: boolean; answered: boolean; untaken?: boolean }): ExecutionFailure {
  const metadata = new grpc.Metadata();
  if (how.answered) metadata.set(ANSWERED_TRAILER, "1");
  const err = Object.assign(new Error(`${code} ${grpc.status[code] ?? ""}: ${details}`), { code, details, metadata }) as ExecutionFailure;
  if (how.started) err.started = true;
  if (how.untaken) err.untaken = true;
  return err;
}

interface Pending {
  resolve(res: ExecuteResponse): void;
  reject(err: ExecutionFailure): void;
  started: boolean;
  timer: NodeJS.Timeout;
}

class ExecutionStream {
  private readonly call: grpc.ClientDuplexStream<ExecuteStreamRequest, ExecuteStreamResponse>;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Takes no new execution. */
  closing = false;
  /** The instance the channel placed it on, once it answered ("" until then). */
  peer = "";
  /** Executions it has taken. */
  taken = 0;
  private halfClosed = false;
  private readonly age: NodeJS.Timeout;

  constructor(client: ScriptRunnerClient, onGone: (s: ExecutionStream) => void) {
    this.call = client.executeStream();
    this.age = setTimeout(() => this.close(), STREAM_MAX_AGE_MS * (0.75 + Math.random() / 2));
    this.age.unref();
    this.call.on("data", (m: ExecuteStreamResponse) => this.onMessage(m));
    this.call.once("metadata", () => (this.peer = this.call.getPeer()));
    let gone = false;
    // Ends the stream's executions: `err` for a stream that failed, none for one that ended.
    const end = (err?: grpc.ServiceError) => {
      if (gone) return;
      gone = true;
      this.closing = true;
      clearTimeout(this.age);
      onGone(this);
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        clearTimeout(p.timer);
        if (err) p.reject(failureOf(err.code, err.details, { started: p.started, answered: false }));
        // The instance ended the stream after answering everything it took.
        else if (!p.started) p.reject(failureOf(grpc.status.UNAVAILABLE, "the sandbox ended the stream", { started: false, answered: true, untaken: true }));
        else p.reject(failureOf(grpc.status.UNAVAILABLE, "the stream ended before the result", { started: true, answered: false }));
      }
    };
    this.call.on("error", (err: grpc.ServiceError) => end(err));
    this.call.on("status", (s: grpc.StatusObject) => end(s.code === grpc.status.OK ? undefined : Object.assign(new Error(s.details), s)));
  }

  get inFlight(): number {
    return this.pending.size;
  }

  execute(request: ExecuteRequest, deadlineMs: number): Promise<ExecuteResponse> {
    const id = this.nextId++;
    this.taken++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const p = this.pending.get(id);
        if (!p) return;
        this.pending.delete(id);
        // After a half-close the instance's own limits end the run.
        if (!this.halfClosed) this.call.write({ id, cancel: true });
        p.reject(failureOf(grpc.status.DEADLINE_EXCEEDED, "Deadline exceeded", { started: p.started, answered: false }));
      }, deadlineMs);
      this.pending.set(id, { resolve, reject, started: false, timer });
      this.call.write({ id, execute: request });
    });
  }

  /** Half-closes: the instance answers what it took, then ends the stream. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.halfClosed = true;
    this.call.end();
  }

  private onMessage(m: ExecuteStreamResponse): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.started) {
      p.started = true;
      return;
    }
    this.pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.result) return p.resolve(m.result);
    const f = m.failure ?? { code: grpc.status.INTERNAL, details: "an empty answer" };
    // Refused before it started (the instance is stopping): another stream
    // may take it, and this one takes nothing more.
    const untaken = !p.started && f.code === grpc.status.UNAVAILABLE;
    if (untaken) this.close();
    p.reject(failureOf(f.code, f.details, { started: p.started, answered: true, untaken }));
  }
}

/** The streams of one ScriptRunner client. */
export class ExecutionStreams {
  private readonly open = new Set<ExecutionStream>();
  /** The stream the last execution took; the search for the next starts after it. */
  private last: ExecutionStream | undefined;

  constructor(private readonly client: ScriptRunnerClient) {}

  /** `deadlineMs`: how long to wait for the answer before giving up on the run. */
  async execute(request: ExecuteRequest, deadlineMs: number): Promise<ExecuteResponse> {
    for (let sends = 1; ; sends++) {
      try {
        return await this.pick().execute(request, deadlineMs);
      } catch (err) {
        if (!(err as ExecutionFailure).untaken || sends >= MAX_SENDS) throw err;
      }
    }
  }

  private pick(): ExecutionStream {
    const streams = [...this.open].filter((s) => !s.closing);
    let chosen: ExecutionStream | undefined;
    if (streams.length >= MAX_STREAMS) {
      // The instance with the fewest in flight, then the fewest taken by its
      // open streams, whatever the number of streams the channel placed on
      // each; there, the stream with the fewest in flight. Among equals, in
      // turn from the one after the last taken.
      const peers = new Map<string, { inFlight: number; taken: number }>();
      for (const s of streams) {
        const p = peers.get(s.peer) ?? { inFlight: 0, taken: 0 };
        p.inFlight += s.inFlight;
        p.taken += s.taken;
        peers.set(s.peer, p);
      }
      const better = (a: ExecutionStream, b: ExecutionStream) => {
        const [pa, pb] = [peers.get(a.peer)!, peers.get(b.peer)!];
        if (pa.inFlight !== pb.inFlight) return pa.inFlight < pb.inFlight;
        if (pa.taken !== pb.taken) return pa.taken < pb.taken;
        return a.inFlight < b.inFlight;
      };
      const from = this.last === undefined ? 0 : streams.indexOf(this.last) + 1;
      for (let i = 0; i < streams.length; i++) {
        const s = streams[(from + i) % streams.length]!;
        if (chosen === undefined || better(s, chosen)) chosen = s;
      }
    } else {
      chosen = new ExecutionStream(this.client, (s) => this.open.delete(s));
      this.open.add(chosen);
    }
    this.last = chosen;
    return chosen!;
  }
}
