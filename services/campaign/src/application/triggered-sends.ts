import { Inject, Injectable } from '@nestjs/common';
import type { PushledgerConfig } from '@pushledger/config';
import { AppRegistry } from '@pushledger/apps';
import { AppRecord, CampaignTriggerV1, PushTarget } from '@pushledger/contracts';
import { CONFIG, withOpenIdentitySecret } from '@pushledger/platform';
import { deterministicUuid, segmentTenant, SegmentTenantSource } from '@pushledger/lifecycle';
import { CampaignsStore } from '@pushledger/messages';
import { CampaignRunner } from './campaign.runner';

export interface TrackMessage {
  type?: string;
  event?: string;
  userId?: string;
  anonymousId?: string;
  messageId?: string;
  properties?: Record<string, unknown>;
  writeKey?: string;
}

/** Whom a triggered campaign reaches for one event, or null when the event does not qualify. */
export function triggerTarget(trigger: CampaignTriggerV1, msg: TrackMessage): PushTarget | null {
  const props = msg.properties ?? {};
  for (const [k, v] of Object.entries(trigger.where)) if (props[k] !== v) return null;
  switch (trigger.to.kind) {
    case 'user':
      return msg.userId ? { userId: msg.userId } : null;
    case 'token': {
      const token = props[trigger.to.property];
      return typeof token === 'string' && token ? { token } : null;
    }
    case 'device': {
      const deviceId = props[trigger.to.property];
      return typeof deviceId === 'string' && deviceId ? { deviceId } : null;
    }
  }
}

/**
 * Event-triggered campaigns: a `track` event is matched against the app's active triggered campaigns. The
 * message id derives from (campaign, event id), so a redelivered event sends nothing new. Messages the
 * registry cannot use are not this service's to reject: they are passed over.
 */
@Injectable()
export class TriggeredSends {
  constructor(
    private readonly apps: AppRegistry,
    private readonly campaigns: CampaignsStore,
    private readonly runner: CampaignRunner,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
  ) {}

  /** `fallbackEventId`: the event's id when it carries no messageId; `appId`: the app named beside it, and whether that counts. */
  async onEvent(body: TrackMessage, source: SegmentTenantSource & { fallbackEventId: string }): Promise<void> {
    if (!body || body.type !== 'track' || typeof body.event !== 'string') return;
    // The identity secret's hash is opened for the user-hash check only (sealed in the store and on the apps topic).
    const open = (app: AppRecord | undefined) => app && withOpenIdentitySecret(app, this.config.secretKey);
    const tenant = await segmentTenant(body, source, { byWriteKey: async (key) => open(this.apps.findByKey(key)?.app), byId: async (id) => open(await this.apps.get(id)) });
    if (!('app' in tenant)) return;
    const { app } = tenant;
    for (const campaign of await this.campaigns.triggered(app.id, body.event)) {
      const to = triggerTarget(campaign.trigger!, body);
      if (!to) continue;
      const messageId = deterministicUuid(`trigger:${app.id}:${campaign.id}:${body.messageId ?? source.fallbackEventId}`);
      await this.runner.sendTo(app, campaign, messageId, to, { event: { name: body.event, properties: body.properties ?? {} } });
    }
  }
}
