import { IdentityCommand, userStream, deviceStream, AnonymiseDeviceCommand, DetachDeviceCommand, deterministicUuid, type UserView } from '@pushledger/contracts';
import { deviceDecider, DeviceNotFoundError, deviceFollowUps, UserCommand, userDecider } from '@pushledger/domain';
import { StepContext, StreamExecutor, toUserView } from '@pushledger/lifecycle';

export type { UserView } from '@pushledger/contracts';


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
        userCommand = { ...base, type: 'UpdateTraits', traits: command.traits, ...(command.observedAt ? { observedAt: command.observedAt } : {}) };
        break;
      case 'ChangeTopics':
        userCommand = { ...base, type: 'ChangeTopics', topics: command.topics };
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

  async view(appId: string, userId: string): Promise<UserView | null> {
    const { state } = await this.exec.load(userDecider, userStream(appId, userId));
    return state ? toUserView(state) : null;
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
