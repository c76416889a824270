import { Inject, Injectable } from '@nestjs/common';
import { AppAdminCommand, AppDirectoryEntryV1, appStream, directoryEntryOf } from '@pushledger/contracts';
import { AppCommand, appDecider, AppView, toAppView } from '@pushledger/domain';
import { StepContext, StreamExecutor } from '@pushledger/lifecycle';

/** Where an app's new state is announced (`pushledger.apps.v1` in the service). */
export interface AppChanges {
  publish(entry: AppDirectoryEntryV1): Promise<void>;
}
export const APP_CHANGES = Symbol('APP_CHANGES');

/**
 * The app streams' owner: decides app commands on the stream's latest revision (a conflict re-reads and
 * decides again) and announces each app's new state, so every gateway's app directory follows.
 */
@Injectable()
export class AppCommandsHandler {
  constructor(
    private readonly exec: StreamExecutor,
    @Inject(APP_CHANGES) private readonly changes: AppChanges,
  ) {}

  /**
   * `position`: the store position the answer reflects. The entry is published before the answer: a
   * redelivered command (after a crash in between) finds its fact stored and publishes it again.
   */
  async handle(command: AppAdminCommand, now: Date): Promise<{ view: AppView; entry: AppDirectoryEntryV1; position: bigint }> {
    const ctx: StepContext = { appId: command.appId, commandId: command.commandId, step: 'app', now, reached: { position: 0n } };
    const result = await this.exec.execute(appDecider, appStream(command.appId), toDomain(command), ctx);
    // A decided command either stored a fact on an app or threw, so the state is an app here.
    const entry = directoryEntryOf(result.state!, result.revisionBefore + result.events.length - 1);
    await this.changes.publish(entry);
    return { view: toAppView(result.state!), entry, position: ctx.reached!.position };
  }
}

function toDomain(command: AppAdminCommand): AppCommand {
  switch (command.type) {
    case 'CreateApp':
      return { type: command.type, appId: command.appId, name: command.name, writeKeyHash: command.writeKeyHash, serverKeyHash: command.serverKeyHash, identitySecretHash: command.identitySecretHash, fcm: command.fcm, ...(command.apns ? { apns: command.apns } : {}), ...(command.webpush ? { webpush: command.webpush } : {}), settings: command.settings };
    case 'ChangeAppSettings':
      return { type: command.type, appId: command.appId, settings: command.settings, ...(command.apns !== undefined ? { apns: command.apns } : {}), ...(command.webpush !== undefined ? { webpush: command.webpush } : {}) };
    case 'RotateAppKeys':
      return { type: command.type, appId: command.appId, writeKeyHash: command.writeKeyHash, serverKeyHash: command.serverKeyHash, graceSeconds: command.graceSeconds };
    default: {
      const _exhaustive: never = command;
      throw new Error(`unknown app command ${(_exhaustive as { type: string }).type}`);
    }
  }
}
