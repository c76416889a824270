import { DeviceRef, deviceStream, RegistrationCommand, RegistryCommandOf, tokenStream, userStream } from '@pushledger/contracts';
import {
  DeviceCommand,
  deviceDecider,
  DeviceNotFoundError,
  DeviceState,
  DeviceView,
  invalidationFollowUps,
  releaseFollowUp,
  tokenOwnershipDecider,
  toDeviceView,
  userDecider,
  UserErasedError,
} from '@pushledger/domain';
import { tokenHash } from '@pushledger/observability';
import { StepContext, StreamExecutor } from './stream-executor';

/** Without a client-chosen id, a device is named after its token's hash (the token itself never appears in ids). */
export function deviceIdFromToken(token: string): string {
  return `d_${tokenHash(token).slice(0, 26)}`;
}

type Ctx = Omit<StepContext, 'step'>;

/**
 * The device-side flows of libs/domain/README.md over the event store: device and token streams only.
 * User-stream follow-ups run in the identity service, which follows the device facts on Kafka.
 */
export class DeviceFlows {
  constructor(private readonly exec: StreamExecutor) {}

  /**
   * `created`: this command wrote the device's first fact (201 rather than 200 at the API). `position`: the
   * store position the answer reflects (see StepContext.reached), 0 when no step touched a stream.
   */
  async handleWithOutcome(command: RegistrationCommand, now: Date): Promise<{ view: DeviceView; created: boolean; position: bigint }> {
    const reached = { position: 0n };
    if (command.type !== 'RegisterToken') return { view: await this.handle(command, now, reached), created: false, position: reached.position };
    const deviceId = command.deviceId ?? deviceIdFromToken(command.token);
    const causation = `${command.commandId}:register`;
    const view = await this.register(command, { appId: command.appId, commandId: command.commandId, now, reached });
    const stored = await this.exec.readStream(deviceStream(command.appId, deviceId), 1);
    return { view, created: stored[0]?.metadata?.causationId === causation, position: reached.position };
  }

  async handle(command: RegistrationCommand, now: Date, reached?: { position: bigint }): Promise<DeviceView> {
    const ctx: Ctx = { appId: command.appId, commandId: command.commandId, now, reached };
    switch (command.type) {
      case 'RegisterToken':
        return this.register(command, ctx);
      case 'Identify':
        return this.identify(command, ctx);
      case 'Logout':
        return this.logout(command, ctx);
      case 'InvalidateToken':
        return this.invalidate(command, ctx);
      case 'UpdateDeviceAttributes':
        return this.onDevice(await this.resolve(command.appId, command.device), { type: 'UpdateDeviceAttributes', attributes: command.attributes }, ctx);
      case 'ChangePushPermission':
        return this.onDevice(await this.resolve(command.appId, command.device), { type: 'ChangePushPermission', pushEnabled: command.pushEnabled }, ctx);
      case 'MarkSeen':
        return this.onDevice(await this.resolve(command.appId, command.device), { type: 'MarkSeen' }, ctx);
      case 'RecordPushSent':
        return this.onDevice(command.deviceId, { type: 'RecordPushSent', token: command.token, messageId: command.messageId }, ctx);
      case 'RecordPushBounced':
        return this.onDevice(command.deviceId, { type: 'RecordPushBounced', token: command.token, messageId: command.messageId, reason: command.reason }, ctx);
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

  async register(cmd: RegistryCommandOf<'RegisterToken'>, ctx: Ctx): Promise<DeviceView> {
    const { appId, token } = cmd;
    const deviceId = cmd.deviceId ?? deviceIdFromToken(token);
    // Checked first so that a rejected identify leaves nothing half done.
    if (cmd.userId !== null) await this.assertNotErased(appId, cmd.userId);
    const hash = tokenHash(token);
    const tokenStreamId = tokenStream(appId, hash);
    const claimed = await this.exec.execute(tokenOwnershipDecider, tokenStreamId, { type: 'ClaimToken', appId, tokenHash: hash, deviceId }, { ...ctx, step: 'claim' });
    const ownership = claimed.state!;
    let view = await this.onDevice(
      deviceId,
      { type: 'RegisterToken', token, provider: cmd.provider, platform: cmd.platform, claim: ownership.claim, attributes: cmd.attributes, pushEnabled: cmd.pushEnabled },
      ctx,
      'register',
    );
    const release = releaseFollowUp(token, deviceId, ownership);
    if (release) await this.tryOnDevice(release, ctx, 'release');
    // Closes the race with an invalidation that retired the token after our claim.
    const after = await this.exec.load(tokenOwnershipDecider, tokenStreamId);
    if (after.state?.retired) view = await this.onDevice(deviceId, { type: 'InvalidateToken', token, reason: 'retired', messageId: null }, ctx, 'retired');
    if (cmd.userId !== null) view = await this.onDevice(deviceId, { type: 'Identify', userId: cmd.userId }, ctx, 'identify');
    return view;
  }

  async identify(cmd: RegistryCommandOf<'Identify'>, ctx: Ctx): Promise<DeviceView> {
    await this.assertNotErased(cmd.appId, cmd.userId);
    const deviceId = await this.resolve(cmd.appId, cmd.device);
    return this.onDevice(deviceId, { type: 'Identify', userId: cmd.userId }, ctx, 'identify');
  }

  async logout(cmd: RegistryCommandOf<'Logout'>, ctx: Ctx): Promise<DeviceView> {
    const deviceId = await this.resolve(cmd.appId, cmd.device);
    const expectedOwner = cmd.expectedOwner ?? (await this.device(cmd.appId, deviceId))?.userId ?? null;
    if (expectedOwner === null) return this.view(cmd.appId, deviceId);
    return this.onDevice(deviceId, { type: 'Logout', expectedOwner }, ctx, 'logout');
  }

  async invalidate(cmd: RegistryCommandOf<'InvalidateToken'>, ctx: Ctx): Promise<DeviceView> {
    const hash = tokenHash(cmd.token);
    const retired = await this.exec.execute(
      tokenOwnershipDecider,
      tokenStream(cmd.appId, hash),
      { type: 'RetireToken', appId: cmd.appId, tokenHash: hash, deviceId: cmd.deviceId, reason: cmd.reason },
      { ...ctx, step: 'retire' },
    );
    for (const follow of invalidationFollowUps(cmd.token, retired.state!, { deviceId: cmd.deviceId, reason: cmd.reason, messageId: cmd.messageId })) {
      await this.tryOnDevice(follow, ctx, `invalidate:${follow.deviceId}`);
    }
    const reported = cmd.deviceId ?? retired.state!.ownerDeviceId;
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

  private async assertNotErased(appId: string, userId: string): Promise<void> {
    const { state } = await this.exec.load(userDecider, userStream(appId, userId));
    if (state?.erased) throw new UserErasedError(appId);
  }

  private async onDevice(deviceId: string, command: DistributiveOmit<DeviceCommand, 'appId' | 'deviceId'>, ctx: Ctx, step = 'device'): Promise<DeviceView> {
    const full = { ...command, appId: ctx.appId, deviceId } as DeviceCommand;
    const result = await this.exec.execute(deviceDecider, deviceStream(ctx.appId, deviceId), full, { ...ctx, step });
    if (!result.state) throw new DeviceNotFoundError(ctx.appId, deviceId);
    return toDeviceView(result.state);
  }

  /** A follow-up on another device: a device that does not exist has nothing to change. */
  private async tryOnDevice(command: DeviceCommand, ctx: Ctx, step: string): Promise<void> {
    try {
      await this.onDevice(command.deviceId, command, ctx, step);
    } catch (err) {
      if (!(err instanceof DeviceNotFoundError)) throw err;
    }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
