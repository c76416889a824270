import { DEFAULT_APP_SETTINGS, DeviceRef, deviceIdFromToken, tokenHash, deviceStream, RegistrationCommand, RegistryCommandOf, tokenStream, userStream } from '@pushledger/contracts';
import {
  DeviceCommand,
  deviceDecider,
  deviceFollowUps,
  DeviceNotFoundError,
  DeviceState,
  DeviceView,
  invalidationFollowUps,
  isUnregistered,
  registeredSince,
  membershipFollowUp,
  releaseFollowUp,
  tokenOwnershipDecider,
  toDeviceView,
  userDecider,
  UserErasedError,
  type UserState,
} from '@pushledger/domain';
import type { StoredEvent } from '@pushledger/event-store';
import { StepContext, StreamExecutor, StreamTransaction } from '@pushledger/lifecycle';

type Ctx = Omit<StepContext, 'step'>;
type DeviceCommandBody = DistributiveOmit<DeviceCommand, 'appId' | 'deviceId'>;

export interface DeviceFlowsOptions {
  /** The app's `maxDevicesPerUser` setting; the default setting when not given. */
  maxDevicesPerUser?: (appId: string) => Promise<number>;
}

/**
 * The device-side flows of libs/domain/README.md over the event store. Every step is one atomic
 * multi-stream append: the device fact with the token claim it rests on and, when a user gains or loses
 * the device, the user stream's link or unlink (decided by the user decider). So a push accepted after a
 * write's answer finds the device in its user's list, with nothing to wait for.
 */
export class DeviceFlows {
  constructor(
    private readonly exec: StreamExecutor,
    private readonly options: DeviceFlowsOptions = {},
  ) {}

  /**
   * `created`: this command wrote the device's first fact (201 rather than 200 at the API). `position`: the
   * store position the answer reflects (see StepContext.reached), 0 when no step touched a stream.
   */
  async handleWithOutcome(command: RegistrationCommand, now: Date): Promise<{ view: DeviceView; created: boolean; position: bigint }> {
    const reached = { position: 0n };
    const ctx: Ctx = { appId: command.appId, commandId: command.commandId, now, reached };
    if (command.type !== 'RegisterToken') return { view: await this.handle(command, now, reached), created: false, position: reached.position };
    const { view, created } = await this.registerWithOutcome(command, ctx);
    return { view, created, position: reached.position };
  }

  async handle(command: RegistrationCommand, now: Date, reached?: { position: bigint }): Promise<DeviceView> {
    const ctx: Ctx = { appId: command.appId, commandId: command.commandId, now, reached };
    switch (command.type) {
      case 'RegisterToken':
        return (await this.registerWithOutcome(command, ctx)).view;
      case 'Identify':
        return this.identify(command, ctx);
      case 'Logout':
        return this.logout(command, ctx);
      case 'InvalidateToken':
        return this.invalidate(command, ctx);
      case 'UpdateDeviceAttributes':
        return this.onRef(command.device, { type: 'UpdateDeviceAttributes', attributes: command.attributes }, ctx);
      case 'ChangePushPermission':
        return this.onRef(command.device, { type: 'ChangePushPermission', pushEnabled: command.pushEnabled }, ctx);
      case 'MarkSeen':
        return this.onRef(command.device, { type: 'MarkSeen' }, ctx);
      case 'RecordPushSent':
        return this.onDevice(command.deviceId, { type: 'RecordPushSent', tokenHash: command.tokenHash, messageId: command.messageId }, ctx);
      case 'RecordPushBounced':
        return this.onDevice(command.deviceId, { type: 'RecordPushBounced', tokenHash: command.tokenHash, messageId: command.messageId, reason: command.reason }, ctx);
      case 'ExpireToken':
        return this.onDevice(command.deviceId, { type: 'ExpireToken', staleAfterDays: command.staleAfterDays }, ctx);
      case 'DetachDevice':
        return this.onDevice(command.deviceId, { type: 'DetachDevice', expectedOwner: command.expectedOwner, reason: command.reason }, ctx);
      case 'AnonymiseDevice':
        return this.onDevice(command.deviceId, { type: 'AnonymiseDevice', userId: command.userId }, ctx);
      case 'UnregisterDevice':
        return this.unregister(command, ctx);
      default: {
        const _exhaustive: never = command;
        throw new Error(`unknown command ${(_exhaustive as { type: string }).type}`);
      }
    }
  }

  /** Claim, registration and (with a user) identify and link: one atomic step. */
  private async registerWithOutcome(cmd: RegistryCommandOf<'RegisterToken'>, ctx: Ctx): Promise<{ view: DeviceView; created: boolean }> {
    const { appId, token } = cmd;
    const deviceId = cmd.deviceId ?? deviceIdFromToken(token);
    const hash = tokenHash(token);
    const stream = deviceStream(appId, deviceId);
    const step = 'register';
    const followUps: DeviceCommand[] = [];
    const { state, ownership, created } = await this.exec.transact({ ...ctx, step }, async (tx) => {
      followUps.length = 0;
      if (cmd.userId !== null) await this.assertNotErased(tx, appId, cmd.userId);
      // Guarded: a concurrent invalidation that retires the token conflicts with this append, and the re-run refuses the claim.
      const ownership = (await tx.decide(tokenOwnershipDecider, tokenStream(appId, hash), { type: 'ClaimToken', appId, tokenHash: hash, deviceId })).state!;
      let state = await this.decideDevice(
        tx,
        appId,
        deviceId,
        { type: 'RegisterToken', token, provider: cmd.provider, platform: cmd.platform, claim: ownership.claim, attributes: cmd.attributes, pushEnabled: cmd.pushEnabled },
        followUps,
      );
      if (cmd.userId !== null) state = await this.decideDevice(tx, appId, deviceId, { type: 'Identify', userId: cmd.userId }, followUps);
      return { state, ownership, created: createdByStep(tx.stored(stream), tx.isReplayed(stream), `${ctx.commandId}:${step}`) };
    });
    const release = releaseFollowUp(token, deviceId, ownership);
    if (release) await this.tryOnDevice(release, ctx, 'release');
    await this.runFollowUps(followUps, ctx);
    return { view: toDeviceView(state), created };
  }

  async identify(cmd: RegistryCommandOf<'Identify'>, ctx: Ctx): Promise<DeviceView> {
    return this.onRef(cmd.device, { type: 'Identify', userId: cmd.userId }, ctx, 'identify', (tx) => this.assertNotErased(tx, cmd.appId, cmd.userId));
  }

  async logout(cmd: RegistryCommandOf<'Logout'>, ctx: Ctx): Promise<DeviceView> {
    const followUps: DeviceCommand[] = [];
    const state = await this.exec.transact({ ...ctx, step: 'logout' }, async (tx) => {
      followUps.length = 0;
      const deviceId = await this.resolveIn(tx, cmd.appId, cmd.device);
      const current = await tx.peek(deviceDecider, deviceStream(cmd.appId, deviceId));
      const expectedOwner = cmd.expectedOwner ?? current?.userId ?? null;
      if (!current) throw new DeviceNotFoundError(cmd.appId, deviceId);
      if (expectedOwner === null) return current;
      return this.decideDevice(tx, cmd.appId, deviceId, { type: 'Logout', expectedOwner }, followUps);
    });
    return toDeviceView(state);
  }

  /** Retires the token and invalidates it on the device holding it and on the one the failing push went to: one step. */
  async invalidate(cmd: RegistryCommandOf<'InvalidateToken'>, ctx: Ctx): Promise<DeviceView> {
    const hash = cmd.tokenHash;
    const followUps: DeviceCommand[] = [];
    const reported = await this.exec.transact({ ...ctx, step: 'retire' }, async (tx) => {
      followUps.length = 0;
      if (cmd.invalidSince !== undefined && cmd.deviceId !== null) {
        // Registered again since the provider knew it dead: the token lives on, so it is not retired either.
        const device = await tx.load(deviceDecider, deviceStream(cmd.appId, cmd.deviceId));
        if (device && registeredSince(device, hash, cmd.invalidSince)) return cmd.deviceId;
      }
      const retired = (await tx.decide(tokenOwnershipDecider, tokenStream(cmd.appId, hash), { type: 'RetireToken', appId: cmd.appId, tokenHash: hash, deviceId: cmd.deviceId, reason: cmd.reason })).state!;
      for (const follow of invalidationFollowUps(hash, retired, { deviceId: cmd.deviceId, reason: cmd.reason, messageId: cmd.messageId, ...(cmd.invalidSince !== undefined ? { invalidSince: cmd.invalidSince } : {}) })) {
        // A device that does not exist has nothing to invalidate.
        if (await tx.peek(deviceDecider, deviceStream(cmd.appId, follow.deviceId))) await this.decideDevice(tx, cmd.appId, follow.deviceId, follow, followUps);
      }
      return cmd.deviceId ?? retired.ownerDeviceId;
    });
    await this.runFollowUps(followUps, ctx);
    if (!reported) throw new DeviceNotFoundError(cmd.appId, '(by token)');
    return this.view(cmd.appId, reported);
  }

  /**
   * The token is given up first, then the device goes (LoggedOut for its owner, DeviceUnregistered). A crash in
   * between leaves a device that still holds a token nobody claims: the retried command completes it, and
   * a claim meanwhile still releases it from this device (TokenClaimed names it as the previous holder).
   */
  async unregister(cmd: RegistryCommandOf<'UnregisterDevice'>, ctx: Ctx): Promise<DeviceView> {
    const { appId, deviceId } = cmd;
    const device = await this.device(appId, deviceId);
    if (!device) throw new DeviceNotFoundError(appId, deviceId);
    if (device.token !== null) {
      const hash = tokenHash(device.token);
      await this.exec.execute(tokenOwnershipDecider, tokenStream(appId, hash), { type: 'UnclaimToken', appId, tokenHash: hash, deviceId }, { ...ctx, step: 'unclaim' });
    }
    return this.onDevice(deviceId, { type: 'UnregisterDevice' }, ctx, 'unregister');
  }

  /** The device a request names: by id, or by the token's current holder. */
  async resolve(appId: string, ref: DeviceRef): Promise<string> {
    if ('deviceId' in ref) return ref.deviceId;
    const { state } = await this.exec.load(tokenOwnershipDecider, tokenStream(appId, tokenHash(ref.token)));
    const owner = state?.ownerDeviceId;
    if (!owner) throw new DeviceNotFoundError(appId, '(by token)');
    const device = await this.device(appId, owner);
    if (!device || device.token !== ref.token) throw new DeviceNotFoundError(appId, '(by token)');
    return owner;
  }

  async device(appId: string, deviceId: string): Promise<DeviceState | null> {
    return (await this.exec.load(deviceDecider, deviceStream(appId, deviceId))).state;
  }

  present(state: DeviceState): DeviceView {
    return toDeviceView(state);
  }

  async view(appId: string, deviceId: string): Promise<DeviceView> {
    const d = await this.device(appId, deviceId);
    if (!d) throw new DeviceNotFoundError(appId, deviceId);
    return toDeviceView(d);
  }

  /** resolve, reading through the transaction (the device it finds is then read once). */
  private async resolveIn(tx: StreamTransaction, appId: string, ref: DeviceRef): Promise<string> {
    if ('deviceId' in ref) return ref.deviceId;
    const owner = (await tx.peek(tokenOwnershipDecider, tokenStream(appId, tokenHash(ref.token))))?.ownerDeviceId;
    if (!owner) throw new DeviceNotFoundError(appId, '(by token)');
    const device = await tx.peek(deviceDecider, deviceStream(appId, owner));
    if (!device || device.token !== ref.token) throw new DeviceNotFoundError(appId, '(by token)');
    return owner;
  }

  private async assertNotErased(tx: StreamTransaction, appId: string, userId: string): Promise<void> {
    if ((await tx.load(userDecider, userStream(appId, userId)))?.erased) throw new UserErasedError(appId);
  }

  /**
   * Decides on the device and keeps the user streams in step with what it decided, in the same
   * transaction: Identified links the device (evicting past maxDevicesPerUser), LoggedOut unlinks it.
   * Devices evicted from a user are collected in `followUps`, to be detached after the step.
   */
  private async decideDevice(tx: StreamTransaction, appId: string, deviceId: string, command: DeviceCommandBody, followUps: DeviceCommand[]): Promise<DeviceState> {
    const { state, events } = await tx.decide(deviceDecider, deviceStream(appId, deviceId), { ...command, appId, deviceId } as DeviceCommand);
    for (const { event, revision } of events) {
      if (event.type !== 'Identified' && event.type !== 'LoggedOut') continue;
      const stream = userStream(appId, event.data.pii.userId);
      const user = await tx.load(userDecider, stream);
      const maxDevicesPerUser = await this.maxDevicesPerUser(appId);
      const knownLastSeen = event.type === 'Identified' ? await this.lastSeenIfOverLimit(tx, appId, deviceId, user, maxDevicesPerUser) : {};
      const follow = membershipFollowUp(event, revision, { maxDevicesPerUser, knownLastSeen });
      if (follow) followUps.push(...deviceFollowUps((await tx.decide(userDecider, stream, follow)).events.map((e) => e.event)));
    }
    if (!state) throw new DeviceNotFoundError(appId, deviceId);
    return state;
  }

  /** Only a link past the limit evicts, by last sighting: the other devices are read only then. */
  private async lastSeenIfOverLimit(tx: StreamTransaction, appId: string, deviceId: string, user: UserState | null, max: number): Promise<Record<string, string>> {
    const others = Object.keys(user?.devices ?? {}).filter((id) => id !== deviceId);
    if (others.length + 1 <= max) return {};
    const out: Record<string, string> = {};
    for (const id of others) {
      const d = await tx.peek(deviceDecider, deviceStream(appId, id));
      if (d) out[id] = d.lastSeenAt;
    }
    return out;
  }

  private maxDevicesPerUser(appId: string): Promise<number> {
    return this.options.maxDevicesPerUser?.(appId) ?? Promise.resolve(DEFAULT_APP_SETTINGS.maxDevicesPerUser);
  }

  private async onRef(ref: DeviceRef, command: DeviceCommandBody, ctx: Ctx, step = 'device', guard?: (tx: StreamTransaction) => Promise<void>): Promise<DeviceView> {
    const followUps: DeviceCommand[] = [];
    const state = await this.exec.transact({ ...ctx, step }, async (tx) => {
      followUps.length = 0;
      if (guard) await guard(tx);
      return this.decideDevice(tx, ctx.appId, await this.resolveIn(tx, ctx.appId, ref), command, followUps);
    });
    await this.runFollowUps(followUps, ctx);
    return toDeviceView(state);
  }

  private onDevice(deviceId: string, command: DeviceCommandBody, ctx: Ctx, step = 'device'): Promise<DeviceView> {
    return this.onRef({ deviceId }, command, ctx, step);
  }

  /** Devices a step evicted from a user: detached each in a step of its own (the user no longer lists them). */
  private async runFollowUps(followUps: DeviceCommand[], ctx: Ctx): Promise<void> {
    for (const follow of followUps) await this.tryOnDevice(follow, ctx, `follow:${follow.type}:${follow.deviceId}`);
  }

  /** A follow-up on another device: a device that does not exist has nothing to change. */
  private async tryOnDevice(command: DeviceCommand, ctx: Ctx, step: string): Promise<void> {
    try {
      const { appId: _a, deviceId, ...body } = command;
      await this.onDevice(deviceId, body as DeviceCommandBody, ctx, step);
    } catch (err) {
      if (!(err instanceof DeviceNotFoundError)) throw err;
    }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * The step made the device exist for a client: its first fact, or the first after the device was
 * unregistered (a Twilio DELETE made it answer 404). On a replay, judged from the facts before the step's own.
 */
function createdByStep(stored: StoredEvent[], replayed: boolean, causationId: string): boolean {
  const mine = replayed ? stored.findIndex((e) => e.metadata?.causationId === causationId) : stored.length;
  if (mine <= 0) return mine === 0;
  let before = deviceDecider.initialState;
  for (const e of stored.slice(0, mine)) before = deviceDecider.evolve(before, { type: e.type, data: e.data } as Parameters<typeof deviceDecider.evolve>[1]);
  return before !== null && isUnregistered(before);
}
