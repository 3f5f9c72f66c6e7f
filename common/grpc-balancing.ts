// Spreading calls over every healthy instance behind one target, with what
// grpc-js already has: its resolvers (a list of addresses, or DNS), its
// round_robin policy, and the standard gRPC health service each of our
// servers answers. grpc-js does not watch that service itself (client-side
// health checking, gRPC proposal A17, is not implemented there), so this
// module adds the one missing piece: a policy that is round_robin over
// subchannels that also watch Health/Watch on their own connection, and
// count as down until it says SERVING.
import * as grpc from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";

const {
  BaseSubchannelWrapper,
  ChildLoadBalancerHandler,
  createChildChannelControlHelper,
  parseLoadBalancingConfig,
  registerLoadBalancerType,
} = grpc.experimental;

type SubchannelInterface = grpc.experimental.SubchannelInterface;
type ChannelControlHelper = grpc.experimental.ChannelControlHelper;
type ConnectivityStateListener = grpc.experimental.ConnectivityStateListener;
const { READY, CONNECTING } = grpc.connectivityState;

export const POLICY_NAME = "secutils_health_round_robin";
/** After a failed watch (not a NOT_SERVING answer), the next try waits this long. */
const REWATCH_MS = 250;

interface HealthWatchClient extends grpc.Client {
  watch(req: { service: string }, options?: Partial<grpc.CallOptions>): grpc.ClientReadableStream<{ status?: string | number }>;
}
/** The standard health service's client, for the watch here and grpc-client.ts's checks. */
export const HealthClient = grpc.makeGenericClientConstructor(healthService as grpc.ServiceDefinition, "Health");
/** A health answer's status is SERVING (a name or its enum number, as the loader gives it). */
export const isServing = (status: string | number | undefined) => status === "SERVING" || status === 1;

/**
 * The last health answer on each connection (keyed by grpc-js's pooled
 * subchannel), shared by the wrappers over it while any of them is alive
 * (`watchers`). round_robin makes new wrappers over the same connections on
 * every resolution, even one that names the same instances: each started as
 * not answered, and the channel reported CONNECTING until the new watch
 * answered, with nothing in doubt (and the sandbox drops its cache of released
 * secrets when its broker channel is not READY).
 */
const lastAnswers = new WeakMap<object, { watchers: number; healthy: boolean | undefined }>();

/**
 * A subchannel that is healthy only while its server says SERVING on
 * Health/Watch (overall status, service ""). The watch runs on the
 * subchannel's own connection, so it sees exactly the instance calls go to.
 * Until the first answer on a new connection it reports CONNECTING, not READY,
 * so calls wait for it instead of failing (as A17 says); a server without the
 * health service counts as healthy.
 */
class HealthWatchedSubchannel extends BaseSubchannelWrapper {
  private client: HealthWatchClient | undefined;
  private watch: grpc.ClientReadableStream<{ status?: string | number }> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private destroyed = false;
  /** Whether the server answered the watch on the current connection. */
  private answered = false;
  private readonly listeners = new Map<ConnectivityStateListener, ConnectivityStateListener>();
  private readonly onState = () => this.follow();
  private readonly connection: { watchers: number; healthy: boolean | undefined };

  constructor(child: SubchannelInterface) {
    super(child);
    const real = child.getRealSubchannel();
    let connection = lastAnswers.get(real);
    if (connection === undefined) lastAnswers.set(real, (connection = { watchers: 0, healthy: undefined }));
    connection.watchers++;
    this.connection = connection;
    // Another wrapper already heard this connection's answer: start from it (the watch below goes on).
    if (connection.healthy !== undefined && child.getConnectivityState() === READY) {
      this.answered = true;
      this.setHealthy(connection.healthy);
    }
    // Registered first, so `answered` is current before any other listener hears of a change.
    this.child.addConnectivityStateListener(this.onState);
    this.follow();
  }

  /** READY only once the health watch answered on this connection. */
  private seen(state: grpc.connectivityState): grpc.connectivityState {
    return state === READY && !this.answered ? CONNECTING : state;
  }

  override getConnectivityState(): grpc.connectivityState {
    return this.seen(this.child.getConnectivityState());
  }

  override addConnectivityStateListener(listener: ConnectivityStateListener): void {
    const seen: ConnectivityStateListener = (_subchannel, previous, next, keepalive, error) => {
      const [from, to] = [this.seen(previous), this.seen(next)];
      if (from !== to) listener(this, from, to, keepalive, error);
    };
    this.listeners.set(listener, seen);
    this.child.addConnectivityStateListener(seen);
  }

  override removeConnectivityStateListener(listener: ConnectivityStateListener): void {
    const seen = this.listeners.get(listener);
    if (!seen) return;
    this.listeners.delete(listener);
    this.child.removeConnectivityStateListener(seen);
  }

  private answer(healthy: boolean): void {
    this.connection.healthy = healthy;
    this.setHealthy(healthy);
    if (this.answered) return;
    this.answered = true;
    if (this.child.getConnectivityState() !== READY) return;
    // -1: no keepalive change to pass on (the argument is about GOAWAY too_many_pings).
    for (const listener of [...this.listeners.keys()]) listener(this, CONNECTING, READY, -1);
  }

  private follow(): void {
    if (this.destroyed) return;
    if (this.child.getConnectivityState() !== READY) {
      this.stopWatch();
      this.answered = false;
      // That connection is gone: the next one is watched afresh.
      this.connection.healthy = undefined;
      return;
    }
    if (this.watch || this.retry) return;
    this.client ??= new HealthClient("unused", grpc.credentials.createInsecure(), {
      channelOverride: this.getChannel(),
    }) as unknown as HealthWatchClient;
    const watch = this.client.watch({ service: "" });
    this.watch = watch;
    watch.on("data", (res: { status?: string | number }) => this.answer(isServing(res.status)));
    watch.on("error", (err: grpc.ServiceError) => {
      if (this.watch !== watch) return;
      this.watch = undefined;
      if (err.code === grpc.status.CANCELLED) return;
      if (err.code === grpc.status.UNIMPLEMENTED) {
        this.answer(true);
        return;
      }
      this.answer(false);
      this.retry = setTimeout(() => {
        this.retry = undefined;
        this.follow();
      }, REWATCH_MS);
      this.retry.unref();
    });
    watch.on("end", () => {
      if (this.watch === watch) this.watch = undefined;
    });
  }

  private stopWatch(): void {
    clearTimeout(this.retry);
    this.retry = undefined;
    const watch = this.watch;
    this.watch = undefined;
    watch?.cancel();
  }

  protected override destroy(): void {
    this.destroyed = true;
    // Once nobody watches the connection, what it said last may not hold for it later. Not
    // at once: round_robin ends the old wrappers just before it makes the new ones, in one go.
    if (--this.connection.watchers === 0) {
      const real = this.child.getRealSubchannel();
      const connection = this.connection;
      queueMicrotask(() => {
        if (connection.watchers === 0 && lastAnswers.get(real) === connection) lastAnswers.delete(real);
      });
    }
    this.child.removeConnectivityStateListener(this.onState);
    this.stopWatch();
    this.client?.close();
    super.destroy();
  }
}

class HealthRoundRobinConfig implements grpc.experimental.TypedLoadBalancingConfig {
  getLoadBalancerName() {
    return POLICY_NAME;
  }
  toJsonObject() {
    return { [POLICY_NAME]: {} };
  }
  static createFromJson(): HealthRoundRobinConfig {
    return new HealthRoundRobinConfig();
  }
}

const ROUND_ROBIN = parseLoadBalancingConfig({ round_robin: {} });

/** round_robin, with every subchannel it creates watching its instance's health. */
class HealthRoundRobin implements grpc.experimental.LoadBalancer {
  private readonly child: InstanceType<typeof ChildLoadBalancerHandler>;

  constructor(helper: ChannelControlHelper) {
    this.child = new ChildLoadBalancerHandler(
      createChildChannelControlHelper(helper, {
        createSubchannel: (address, args) => new HealthWatchedSubchannel(helper.createSubchannel(address, args)),
      }),
    );
  }
  updateAddressList(...[endpoints, , options, note]: Parameters<grpc.experimental.LoadBalancer["updateAddressList"]>): boolean {
    return this.child.updateAddressList(endpoints, ROUND_ROBIN, options, note);
  }
  exitIdle() {
    this.child.exitIdle();
  }
  resetBackoff() {
    this.child.resetBackoff();
  }
  destroy() {
    this.child.destroy();
  }
  getTypeName() {
    return POLICY_NAME;
  }
}

registerLoadBalancerType(POLICY_NAME, HealthRoundRobin, HealthRoundRobinConfig);

/** Methods whose call may be sent again to another instance when the one it went to died with it in flight. */
export interface RetryOnUnavailable {
  /** The full service name, e.g. secutils.broker.v1.SecretBroker. */
  service: string;
  methods: string[];
}

/**
 * Channel options that spread calls over every healthy instance the target
 * names. DNS is asked again at most once a second when an instance leaves
 * (grpc-js's default waits 30 s), and only for addresses: a service config
 * in a TXT record is not ours to take.
 *
 * A call that never reached an instance is sent to another by grpc-js itself
 * (a transparent retry). One that reached an instance which then died is
 * sent again only for the `retry` methods: those whose repetition cannot do
 * a thing twice.
 */
export function balancedChannelOptions(retry?: RetryOnUnavailable): grpc.ChannelOptions {
  const methodConfig = retry
    ? [
        {
          name: retry.methods.map((method) => ({ service: retry.service, method })),
          retryPolicy: {
            maxAttempts: 3,
            initialBackoff: "0.05s",
            maxBackoff: "0.5s",
            backoffMultiplier: 2,
            retryableStatusCodes: ["UNAVAILABLE"],
          },
        },
      ]
    : [];
  return {
    "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ [POLICY_NAME]: {} }], methodConfig }),
    "grpc.service_config_disable_resolution": 1,
    "grpc.dns_min_time_between_resolutions_ms": 1_000,
  };
}
