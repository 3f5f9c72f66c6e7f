import type { Logger } from "../../common/log.js";
import { Priorities } from "./priorities.js";
import { DenoProcesses, type ProcessHandlers } from "./processes.js";
import { SchedulingSwitch } from "./scheduling.js";
import { Aborted, QueueFull, type HostReply, type KillReason, type Lease, type PoolOptions, type Proc, type RunOutcome, type Running, type Slot, type UserState, type Waiter, workerHeap } from "./types.js";

/**
 * Workers on long-lived Deno processes (processes.ts starts, restarts and
 * kills those), leased to users. A worker is bound to one user
 * when first leased and never serves anyone else: when the lease ends it is
 * discarded and a fresh spare takes its place. Each user holds at most
 * `workersPerUser` workers; further executions wait in the user's queue.
 */
export class Pool {
  private readonly processes: DenoProcesses;
  private readonly users = new Map<string, UserState>();
  private readonly spares = new Set<Slot>();
  private readonly running = new Map<number, { slot: Slot; run: Running }>();
  private readonly priorities: Priorities;
  /** The Deno processes' scheduling policy, and its moves as users contend (scheduling.ts). */
  readonly scheduling: SchedulingSwitch;
  private nextSlot = 1;
  private nextExec = 1;
  private slotCount = 0;
  private warm = false;
  private warmTimer?: NodeJS.Timeout;

  constructor(
    private readonly o: PoolOptions,
    private readonly log: Logger,
  ) {
    this.scheduling = new SchedulingSwitch(o.scheduling, () => this.processes.pids(), log);
    this.priorities = new Priorities(o.parallelNice, (user) => this.users.get(user)?.slots ?? [], this.scheduling);
    this.processes = new DenoProcesses(o, log, this.processHandlers(), () => this.scheduling.policy);
    this.processes.start(0);
    this.replenish();
    if (o.warmupDelayMs === 0) this.warmUp();
    else
      this.ready().then(
        () => {
          if (this.warm || this.processes.stopped) return;
          this.warmTimer = setTimeout(() => this.warmUp(), o.warmupDelayMs);
          this.warmTimer.unref();
        },
        () => this.warmUp(),
      );
  }

  /** Resolves once a spare worker is ready (start-up, health). */
  async ready(): Promise<void> {
    await Promise.any([...this.spares].map((s) => s.ready));
  }

  stats() {
    let leased = 0;
    let queued = 0;
    for (const u of this.users.values()) {
      leased += u.slots.size;
      queued += u.queue.length;
    }
    return {
      processes: this.processes.live().length,
      workers: this.slotCount,
      spare: this.spares.size,
      leased,
      running: this.running.size,
      queued,
      users: this.users.size,
    };
  }

  /** Processes ended by the pool so far, by reason. */
  kills(): Readonly<Record<KillReason, number>> {
    return this.processes.kills();
  }

  processPids(): number[] {
    return this.processes.pids();
  }

  rssBytes(): number[] {
    return this.processes.rssBytes();
  }

  async acquire(user: string, memoryMb: number, signal?: AbortSignal): Promise<Lease> {
    const slot = this.tryAcquire(user, memoryMb) ?? (await this.enqueue(user, memoryMb, signal));
    try {
      await slot.ready;
    } catch {
      // The worker died while starting; its user state is already cleaned up.
      return this.acquire(user, memoryMb, signal);
    }
    return { slot };
  }

  /** Runs one execution on a leased worker; `message` gets the execution id. */
  exec(lease: Lease, timeoutMs: number, message: (id: number) => string, onRequest: (json: string) => Promise<HostReply>): Promise<RunOutcome> {
    const slot = lease.slot;
    const user = slot.user;
    const id = this.nextExec++;
    return new Promise<RunOutcome>((resolve) => {
      if (!slot.proc.slots.has(slot)) return resolve({ kind: "lost", reason: "crashed" });
      // The runner ends a worker shortly past the deadline; if even that
      // does not come, the process is stuck as a whole.
      const backstop = setTimeout(() => {
        this.processes.kill(slot.proc, "silent_past_deadline", "sandbox process silent past an execution deadline; killing it");
      }, timeoutMs + this.o.killGraceMs);
      const run: Running = {
        id,
        onRequest,
        finish: (o) => {
          clearTimeout(backstop);
          if (this.running.delete(id) && user !== null) this.priorities.ended(user);
          slot.running = undefined;
          resolve(o);
        },
      };
      this.priorities.starting(slot);
      slot.running = run;
      this.running.set(id, { slot, run });
      slot.proc.deno.toWorker(slot.id, timeoutMs, message(id));
    });
  }

  /** Ends the execution's hold on the worker; `discard` retires the worker. */
  release(lease: Lease, discard: boolean): void {
    const slot = lease.slot;
    if (!slot.proc.slots.has(slot)) return this.dispatch();
    if (discard || slot.retireOnRelease) {
      this.removeSlot(slot, true);
      return this.dispatch();
    }
    slot.state = "idle";
    const user = this.users.get(slot.user!);
    const waiter = user?.queue.findIndex((w) => w.memoryMb === slot.memoryMb) ?? -1;
    if (user && waiter >= 0) {
      const [w] = user.queue.splice(waiter, 1);
      slot.state = "busy";
      return w!.resolve(slot);
    }
    slot.idleTimer = setTimeout(() => {
      if (slot.state !== "idle") return;
      this.removeSlot(slot, true);
      this.dispatch();
    }, this.o.leaseIdleMs);
    slot.idleTimer.unref();
    this.dispatch();
  }

  async stop(): Promise<void> {
    const processesStopped = this.processes.stop();
    clearTimeout(this.warmTimer);
    this.scheduling.stop();
    for (const u of this.users.values()) for (const w of u.queue.splice(0)) w.reject(new Aborted("the sandbox is stopping"));
    await processesStopped;
  }

  // ---- leasing ------------------------------------------------------------

  private user(id: string): UserState {
    let u = this.users.get(id);
    if (!u) this.users.set(id, (u = { slots: new Set(), queue: [] }));
    return u;
  }

  private tryAcquire(userId: string, memoryMb: number): Slot | undefined {
    const user = this.user(userId);
    for (const slot of user.slots) {
      if (slot.state === "idle" && slot.memoryMb === memoryMb) {
        clearTimeout(slot.idleTimer);
        slot.state = "busy";
        return slot;
      }
    }
    if (user.slots.size >= this.o.workersPerUser) {
      // At the cap: an idle worker of the wrong size makes way.
      const idle = [...user.slots].find((s) => s.state === "idle");
      if (!idle) return undefined;
      this.removeSlot(idle, true);
    }
    const slot = this.takeSpare(memoryMb) ?? this.newSlot(memoryMb);
    if (!slot) return undefined;
    slot.user = userId;
    slot.state = "busy";
    user.slots.add(slot);
    this.warmUp();
    this.replenish();
    return slot;
  }

  private enqueue(userId: string, memoryMb: number, signal?: AbortSignal): Promise<Slot> {
    const user = this.user(userId);
    if (user.queue.length >= this.o.queuePerUser) {
      return Promise.reject(new QueueFull(`too many executions waiting for this user (at most ${this.o.queuePerUser})`));
    }
    return new Promise<Slot>((resolve, reject) => {
      const waiter: Waiter = {
        memoryMb,
        resolve: (slot) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(slot);
        },
        reject,
      };
      const onAbort = () => {
        const i = user.queue.indexOf(waiter);
        if (i >= 0) user.queue.splice(i, 1);
        reject(new Aborted("the caller gave up"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      user.queue.push(waiter);
    });
  }

  /** Serves waiting executions when capacity frees up, oldest user queue first. */
  private dispatch(): void {
    for (const [userId, user] of this.users) {
      while (user.queue.length > 0) {
        const slot = this.tryAcquire(userId, user.queue[0]!.memoryMb);
        if (!slot) break;
        user.queue.shift()!.resolve(slot);
      }
      if (user.queue.length === 0 && user.slots.size === 0) this.users.delete(userId);
    }
    this.replenish();
  }

  private takeSpare(memoryMb: number): Slot | undefined {
    let starting: Slot | undefined;
    for (const slot of this.spares) {
      if (slot.memoryMb !== memoryMb) continue;
      if (slot.state === "idle") {
        this.spares.delete(slot);
        return slot;
      }
      starting ??= slot;
    }
    if (starting) this.spares.delete(starting);
    return starting;
  }

  /** Starts the processes and spares held back at start-up (see `warmupDelayMs`). */
  private warmUp(): void {
    if (this.warm || this.processes.stopped) return;
    this.warm = true;
    clearTimeout(this.warmTimer);
    for (let i = 1; i < this.o.processes; i++) this.processes.start(i);
    this.log.info({ processes: this.o.processes, spareWorkers: this.o.spareWorkers }, "sandbox pool warming up");
    this.replenish();
  }

  /** Keeps `spareWorkers` unleased workers of the default size (one until warm). */
  private replenish(): void {
    const target = this.warm ? this.o.spareWorkers : Math.min(1, this.o.spareWorkers);
    while (!this.processes.stopped && this.spares.size < target) {
      const slot = this.newSlot(this.o.defaultMemoryMb);
      if (!slot) return;
      this.spares.add(slot);
    }
  }

  // ---- workers ------------------------------------------------------------

  private newSlot(memoryMb: number): Slot | undefined {
    if (this.processes.stopped) return undefined;
    if (this.slotCount >= this.o.maxWorkers) {
      // Make room by retiring a spare of another size or an idle lease.
      const victim =
        [...this.spares].find((s) => s.state === "idle") ??
        [...this.users.values()].flatMap((u) => [...u.slots]).find((s) => s.state === "idle");
      if (!victim) return undefined;
      this.removeSlot(victim, true);
    }
    const proc = this.processes.leastLoaded();
    if (!proc) return undefined;
    let markReady = () => {};
    let markFailed = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      markFailed = () => reject(new Error("worker lost while starting"));
    });
    ready.catch(() => {});
    const slot: Slot = { id: this.nextSlot++, proc, memoryMb, user: null, state: "starting", ready, markReady, markFailed, nice: 0 };
    proc.slots.add(slot);
    this.slotCount++;
    proc.deno.spawnWorker(slot.id, workerHeap(this.o, memoryMb));
    return slot;
  }

  private findSlot(proc: Proc, id: number): Slot | undefined {
    for (const slot of proc.slots) if (slot.id === id) return slot;
    return undefined;
  }

  /** Forgets a worker; `retire` also tells its process to end it. */
  private removeSlot(slot: Slot, retire: boolean): void {
    if (!slot.proc.slots.delete(slot)) return;
    this.slotCount--;
    clearTimeout(slot.idleTimer);
    this.spares.delete(slot);
    if (slot.user !== null) {
      const user = this.users.get(slot.user);
      user?.slots.delete(slot);
    }
    slot.markFailed();
    if (retire) slot.proc.deno.retireWorker(slot.id);
    this.processes.expectWorkerExit(slot.proc, slot.id);
  }

  // ---- what the processes report -------------------------------------------

  private processHandlers(): ProcessHandlers {
    return {
      workerReady: (proc, id, threadId) => {
        const slot = this.findSlot(proc, id);
        if (!slot) return;
        slot.threadId = threadId;
        if (slot.state === "starting") slot.state = slot.user === null ? "idle" : "busy";
        slot.markReady();
      },
      workerGone: (proc, id, reason) => {
        const slot = this.findSlot(proc, id);
        if (!slot) return;
        const run = slot.running;
        this.removeSlot(slot, false);
        run?.finish({ kind: "lost", reason: reason === "time" || reason === "memory" ? reason : "crashed" });
        this.replenish();
        this.dispatch();
      },
      result: (execId, outcome, logs) => {
        this.running.get(execId)?.run.finish({ kind: "finished", outcome, logs });
      },
      request: (proc, execId, json) => {
        const entry = this.running.get(execId);
        if (!entry) return;
        const live = () => this.running.get(execId) === entry;
        void entry.run.onRequest(json).then((reply) => {
          if (live()) proc.deno.replyToWorker(entry.slot.id, execId, reply, live);
        });
      },
      ended: (proc) => {
        for (const slot of [...proc.slots]) {
          const run = slot.running;
          this.removeSlot(slot, false);
          run?.finish({ kind: "lost", reason: "crashed" });
        }
      },
      replaced: () => {
        this.replenish();
        this.dispatch();
      },
    };
  }
}
