import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppRegistry } from '@pushledger/apps';
import { CampaignsStore, localTimeWaves } from '@pushledger/messages';
import { JsonLogger } from '@pushledger/observability';
import { CampaignRunner } from './campaign.runner';

/** Starts scheduled broadcasts when due; a conditional claim lets exactly one replica run each. */
@Injectable()
export class CampaignScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly campaigns: CampaignsStore,
    private readonly apps: AppRegistry,
    private readonly runner: CampaignRunner,
    private readonly logger: JsonLogger,
  ) {}

  onApplicationBootstrap() {
    this.timer = setInterval(() => void this.tick(), 1000);
  }

  async tick(now = new Date()): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (const send of await this.campaigns.dueSends(now)) {
        if (!(await this.campaigns.claim(send))) continue;
        const app = await this.apps.get(send.appId);
        const campaign = await this.campaigns.get(send.appId, send.campaignId);
        if (!app || !campaign) continue;
        const wave = send.wave && campaign.schedule ? localTimeWaves(new Date(campaign.schedule.at)).find((w) => w.dueAt === send.wave) : undefined;
        if (send.wave && !wave) {
          this.logger.error('scheduled wave not found in the time-zone database; it stays claimed', { messageId: send.messageId, wave: send.wave });
          continue;
        }
        await this.runner.broadcast(app, campaign, send.messageId, now, wave);
      }
    } catch (err) {
      this.logger.error('scheduled send failed; it stays claimed for an operator to retry', { error: (err as Error).message });
    } finally {
      this.running = false;
    }
  }

  onApplicationShutdown() {
    if (this.timer) clearInterval(this.timer);
  }
}
