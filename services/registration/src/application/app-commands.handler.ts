import { Injectable } from '@nestjs/common';
import { AppAdminCommand, appStream } from '@pushledger/contracts';
import { AppCommand, appDecider, AppView, toAppView } from '@pushledger/domain';
import { StepContext, StreamExecutor } from '@pushledger/lifecycle';

/** The app streams' owner: decides app commands on the stream's latest revision (a conflict re-reads and decides again). */
@Injectable()
export class AppCommandsHandler {
  constructor(private readonly exec: StreamExecutor) {}

  /** `position`: the store position the answer reflects. */
  async handle(command: AppAdminCommand, now: Date): Promise<{ view: AppView; position: bigint }> {
    const ctx: StepContext = { appId: command.appId, commandId: command.commandId, step: 'app', now, reached: { position: 0n } };
    const result = await this.exec.execute(appDecider, appStream(command.appId), toDomain(command), ctx);
    // A decided command either stored a fact on an app or threw, so the state is an app here.
    return { view: toAppView(result.state!), position: ctx.reached!.position };
  }
}

function toDomain(command: AppAdminCommand): AppCommand {
  switch (command.type) {
    case 'CreateApp':
      return { type: command.type, appId: command.appId, name: command.name, writeKeyHash: command.writeKeyHash, serverKeyHash: command.serverKeyHash, fcm: command.fcm, settings: command.settings };
    case 'ChangeAppSettings':
      return { type: command.type, appId: command.appId, settings: command.settings };
    default: {
      const _exhaustive: never = command;
      throw new Error(`unknown app command ${(_exhaustive as { type: string }).type}`);
    }
  }
}
