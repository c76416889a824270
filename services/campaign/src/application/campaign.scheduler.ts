import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { PushledgerConfig } from '@pushledger/config';
import { AppRegistry } from '@pushledger/apps';
import { CampaignsStore, CampaignSendDoc, localTimeWaves } from '@pushledger/messages';
import { JsonLogger } from '@pushledger/observability';
import { CONFIG } from '@pushledger/platform';
import { CampaignRunner } from './campaign.runner';

/** Broadcasts running at once in one campaign service; more wait for a slot (or run in another replica). */
const MAX_CONCURRENT_SENDS = 4;
/** A send whose runner died this many times is marked failed instead of being taken up again. */
const MAX_RUNS = 5;

/**
 * Runs broadcast sends when due: immediate ones (recorded by `POST /v1/campaigns/{id}/send`, which answers
 * before the audience is streamed), scheduled ones and local-time waves. A runner claims a send with a
 * lease it keeps renewing; if the runner dies, the lease lapses and any replica takes the send up again.
 * A re-run streams the whole audience again: the delivery ledger drops the pairs already sent.
 */
@Injectable()
export class CampaignScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private stopped = false;
  private readonly active = new Map<string, Promise<void>>();
  private readonly messagesActive = new Set<string>();

  constructor(
    private readonly campaigns: CampaignsStore,
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
        // Waves of one local-time message add to one counter, and FerretDB 1.x loses one of two concurrent
        // updates of a document: one wave of a message at a time.
        const message = `${send.appId}:${send.messageId}`;
        if (this.active.has(send._id) || this.messagesActive.has(message)) continue;
        if (!(await this.campaigns.claim(send, now, this.config.campaigns.sendLeaseMs))) continue;
        const run = (send.runs ?? 0) + 1;
        this.messagesActive.add(message);
        this.active.set(
          send._id,
          this.run(send, run).finally(() => {
            this.active.delete(send._id);
            this.messagesActive.delete(message);
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

  private async run(send: CampaignSendDoc, run: number): Promise<void> {
    const leaseMs = this.config.campaigns.sendLeaseMs;
    const renew = setInterval(() => {
      this.campaigns.renewLease(send._id, run, new Date(Date.now() + leaseMs)).catch((err: Error) => this.logger.warn('lease renewal failed', { send: send._id, error: err.message }));
    }, Math.max(500, Math.floor(leaseMs / 3)));
    try {
      if (run > MAX_RUNS) {
        await this.campaigns.failSend(send._id, run, `its runner stopped ${run - 1} times before finishing`);
        this.logger.error('broadcast send given up', { send: send._id, runs: run - 1 });
        return;
      }
      if (run > 1) this.logger.warn('resuming a broadcast send whose runner stopped', { send: send._id, run });
      const app = await this.apps.get(send.appId);
      const campaign = await this.campaigns.get(send.appId, send.campaignId);
      if (!app || !campaign) {
        await this.campaigns.failSend(send._id, run, !app ? 'app not found' : 'campaign not found');
        return;
      }
      const wave = send.wave && campaign.schedule ? localTimeWaves(new Date(campaign.schedule.at)).find((w) => w.dueAt === send.wave) : undefined;
      if (send.wave && !wave) {
        await this.campaigns.failSend(send._id, run, 'its local-time wave is not in the time-zone database');
        return;
      }
      await this.runner.broadcast(app, campaign, send.messageId, new Date(), wave);
    } catch (err) {
      // The lease lapses and the send is taken up again (bounded by MAX_RUNS).
      this.logger.error('broadcast send failed; retried when its lease lapses', { send: send._id, run, error: (err as Error).message });
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
