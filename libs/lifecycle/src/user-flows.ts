import { DeviceEvent, IdentityCommand, userStream, deviceStream, AnonymiseDeviceCommand, DetachDeviceCommand } from '@pushledger/contracts';
import { deviceDecider, DeviceNotFoundError, deviceFollowUps, membershipFollowUp, UserCommand, userDecider, UserErasedError, UserState } from '@pushledger/domain';
import { deterministicUuid, StepContext, StreamExecutor } from './stream-executor';

export interface UserView {
  id: string;
  appId: string;
  traits: Record<string, unknown>;
  unsubscribed: boolean;
  erased: boolean;
  deviceIds: string[];
  revision: number;
}

export function toUserView(s: UserState): UserView {
  return { id: s.userId, appId: s.appId, traits: s.traits, unsubscribed: s.unsubscribed, erased: s.erased, deviceIds: Object.keys(s.devices).sort(), revision: s.revision };
}

/** Device commands the identity service hands to the registration service. */
export type DeviceDispatch = DetachDeviceCommand | AnonymiseDeviceCommand;

/** User-stream flows (identity service): user commands, and the follow-ups of device facts. */
export class UserFlows {
  constructor(private readonly exec: StreamExecutor) {}

  /** `position`: the store position the answer reflects (see StepContext.reached). */
  async handle(command: IdentityCommand, now: Date): Promise<{ view: UserView; dispatch: DeviceDispatch[]; position: bigint }> {
    const ctx: StepContext = { appId: command.appId, commandId: command.commandId, now, step: 'user', reached: { position: 0n } };
    const base = { appId: command.appId, userId: command.userId };
    let userCommand: UserCommand;
    switch (command.type) {
      case 'UpdateTraits':
        userCommand = { ...base, type: 'UpdateTraits', traits: command.traits };
        break;
      case 'EraseUser': {
        // Devices first: storing UserErased destroys the user's pii key (libs/privacy), after which a device
        // can no longer tell that this user owned it. Each step is idempotent, so a retry completes it.
        const { state } = await this.exec.load(userDecider, userStream(command.appId, command.userId));
        for (const deviceId of state && !state.erased ? Object.keys(state.devices).sort() : []) {
          const anonymise = { type: 'AnonymiseDevice' as const, appId: command.appId, deviceId, userId: command.userId };
          await this.exec.execute(deviceDecider, deviceStream(command.appId, deviceId), anonymise, { ...ctx, step: `anonymise:${deviceId}` }).catch((err: unknown) => {
            if (!(err instanceof DeviceNotFoundError)) throw err;
          });
        }
        userCommand = { ...base, type: command.type };
        break;
      }
      case 'Unsubscribe':
      case 'Resubscribe':
      case 'LiftErasure':
        userCommand = { ...base, type: command.type };
        break;
      default: {
        const _exhaustive: never = command;
        throw new Error(`unknown command ${(_exhaustive as { type: string }).type}`);
      }
    }
    const result = await this.exec.execute(userDecider, userStream(command.appId, command.userId), userCommand, ctx);
    return { view: toUserView(result.state!), dispatch: this.dispatchFor(deviceFollowUps(result.events), command.commandId, now), position: ctx.reached!.position };
  }

  /**
   * Keeps the user stream's device list in step with one device fact read from the lifecycle topic.
   * `deviceRevision` is the fact's 1-based revision; late or repeated facts change nothing.
   */
  async followDeviceFact(event: DeviceEvent, eventId: string, deviceRevision: number, maxDevicesPerUser: number, now: Date): Promise<DeviceDispatch[]> {
    const userId = event.type === 'Identified' || event.type === 'LoggedOut' ? event.data.pii.userId : null;
    if (userId === null) return [];
    const knownLastSeen = event.type === 'Identified' ? await this.lastSeenOfDevicesOf(event.data.appId, userId) : {};
    const follow = membershipFollowUp(event, deviceRevision, { maxDevicesPerUser, knownLastSeen });
    if (!follow) return [];
    const ctx: StepContext = { appId: event.data.appId, commandId: eventId, now, step: 'membership' };
    try {
      const result = await this.exec.execute(userDecider, userStream(follow.appId, follow.userId), follow, ctx);
      return this.dispatchFor(deviceFollowUps(result.events), eventId, now);
    } catch (err) {
      // Erased between the device's identify and this link: undo the device's identification.
      if (err instanceof UserErasedError && follow.type === 'LinkDevice') {
        return [{ type: 'AnonymiseDevice', appId: follow.appId, deviceId: follow.deviceId, userId: follow.userId, commandId: deterministicUuid(`${eventId}:anonymise`), issuedAt: now.toISOString() }];
      }
      throw err;
    }
  }

  async view(appId: string, userId: string): Promise<UserView | null> {
    const { state } = await this.exec.load(userDecider, userStream(appId, userId));
    return state ? toUserView(state) : null;
  }

  private async lastSeenOfDevicesOf(appId: string, userId: string): Promise<Record<string, string>> {
    const { state } = await this.exec.load(userDecider, userStream(appId, userId));
    const out: Record<string, string> = {};
    for (const id of Object.keys(state?.devices ?? {})) {
      const d = (await this.exec.load(deviceDecider, deviceStream(appId, id))).state;
      if (d) out[id] = d.lastSeenAt;
    }
    return out;
  }

  private dispatchFor(commands: ReturnType<typeof deviceFollowUps>, causeId: string, now: Date): DeviceDispatch[] {
    return commands.flatMap((c, i): DeviceDispatch[] => {
      const meta = { commandId: deterministicUuid(`${causeId}:follow:${i}:${c.deviceId}`), issuedAt: now.toISOString(), appId: c.appId, deviceId: c.deviceId };
      if (c.type === 'DetachDevice') return [{ ...meta, type: 'DetachDevice', expectedOwner: c.expectedOwner, reason: c.reason }];
      if (c.type === 'AnonymiseDevice') return [{ ...meta, type: 'AnonymiseDevice', userId: c.userId }];
      return [];
    });
  }
}
