import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { PushledgerConfig } from '@pushledger/config';
import { AppRegistry } from '@pushledger/apps';
import { CampaignsStore, CampaignSendDoc, localTimeWaves } from '@pushledger/messages';
import { CampaignSends, type WaveClaim } from './campaign-sends';
import { JsonLogger } from '@pushledger/observability';
import { CONFIG } from '@pushledger/platform';
import { CampaignRunner } from './campaign.runner';

/** Broadcast waves running at once in one campaign service; more wait for a slot (or run in another replica). */
const MAX_CONCURRENT_SENDS = 4;

/**
 * Runs broadcast waves when due: immediate ones (recorded by `POST /v1/campaigns/{id}/send`, which answers
 * before the audience is streamed), scheduled ones and local-time waves. The send's stream decides who
 * runs a wave: a claim is a fact appended under the stream's revision, so of two replicas that saw the wave
 * due only one wins; the winner keeps renewing its lease, and if it dies the lease lapses and any replica
 * takes the wave up again (a re-run streams the whole audience again: the delivery ledger drops the pairs
 * already sent). The view documents only say which waves may be due.
 */
@Injectable()
export class CampaignScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private stopped = false;
  private readonly active = new Map<string, Promise<void>>();

  constructor(
    private readonly campaigns: CampaignsStore,
    private readonly sends: CampaignSends,
    private readonly apps: AppRegistry,
    private readonly runner: CampaignRunner,
    private readonly logger: JsonLogger,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
  ) {}

  onApplicationBootstrap() {
    this.timer = setInterval(() => void this.tick(), 1000);
  }

  /** Looks for due sends now rather than at the next second (after a send was recorded). */
  kick(): void {
    void this.tick();
  }

  async tick(now = new Date()): Promise<void> {
    if (this.stopped || this.ticking || this.active.size >= MAX_CONCURRENT_SENDS) return;
    this.ticking = true;
    try {
      for (const send of await this.campaigns.dueSends(now)) {
        if (this.active.size >= MAX_CONCURRENT_SENDS) break;
        if (this.active.has(send._id)) continue;
        const claim = await this.sends.claim(send, this.config.campaigns.sendLeaseMs, now);
        if (!claim) continue;
        this.active.set(
          send._id,
          this.run(send, claim).finally(() => {
            this.active.delete(send._id);
            this.kick();
          }),
        );
      }
    } catch (err) {
      this.logger.error('looking for due sends failed; retried next second', { error: (err as Error).message });
    } finally {
      this.ticking = false;
    }
  }

  private async run(send: CampaignSendDoc, claim: WaveClaim): Promise<void> {
    const leaseMs = this.config.campaigns.sendLeaseMs;
    const renew = setInterval(() => {
      this.sends.renew(claim, leaseMs, new Date()).catch((err: Error) => this.logger.warn('lease renewal failed', { send: send._id, error: err.message }));
    }, Math.max(500, Math.floor(leaseMs / 3)));
    try {
      if (claim.run > 1) this.logger.warn('resuming a broadcast send whose runner stopped', { send: send._id, run: claim.run });
      const app = await this.apps.get(send.appId);
      const campaign = await this.campaigns.get(send.appId, send.campaignId);
      if (!app || !campaign) {
        await this.sends.fail(claim, !app ? 'app not found' : 'campaign not found', new Date());
        return;
      }
      const wave = send.wave && campaign.schedule ? localTimeWaves(new Date(campaign.schedule.at)).find((w) => w.dueAt === send.wave) : undefined;
      if (send.wave && !wave) {
        await this.sends.fail(claim, 'its local-time wave is not in the time-zone database', new Date());
        return;
      }
      const result = await this.runner.broadcast(app, campaign, send.messageId, new Date(), wave, () => this.sends.check(claim));
      await this.sends.recordTargeted(claim, result.targeted, result.skipped, new Date());
    } catch (err) {
      // The lease lapses and the wave is taken up again (bounded by GIVE_UP_WAVE_AFTER_RUNS).
      this.logger.error('broadcast send failed; retried when its lease lapses', { send: send._id, run: claim.run, error: (err as Error).message });
    } finally {
      clearInterval(renew);
    }
  }

  async onApplicationShutdown() {
    // Running sends are abandoned, not finished: their leases lapse and a live replica takes them up.
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }
}
