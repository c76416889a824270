import { randomUUID } from 'crypto';
import {
  AppRecord,
  DeliveryRequestV1,
  DeliveryTargetV1,
  deviceStream,
  MAX_TARGETS_PER_REQUEST,
  PushContentV1,
  PushTarget,
  sendableProviders,
  SendPushResultV1,
  tokenStream,
  userStream,
  webPushPayloadFits,
} from '@pushledger/contracts';
import { deviceDecider, DeviceView, EligibilityUser, planSend, toDeviceView, tokenOwnershipDecider, userDecider } from '@pushledger/domain';
import { StreamExecutor } from '@pushledger/lifecycle';
import type { MessagesStore } from '@pushledger/messages';
import { tokenHash } from '@pushledger/observability';
import type { DeliveryRequests } from './delivery-requests';

export interface PushPlanInput {
  appId: string;
  messageId: string;
  campaignId: string | null;
  to: PushTarget;
  content: PushContentV1;
  transactional: boolean;
  devicePolicy: AppRecord['settings']['devicePolicy'] | null;
  topic?: string | null;
  /** Per-recipient content (templates, locale). */
  render?: (device: DeviceView) => PushContentV1 | null;
}

/**
 * A push to one user, device or token: candidates from the store (always current), eligibility and
 * device policy from the domain, then delivery requests (the excluded devices too, as `skipped`).
 */
export class PushSender {
  constructor(
    private readonly exec: StreamExecutor,
    private readonly requests: DeliveryRequests,
    private readonly messageRecords: MessagesStore,
    /** Which providers send without an app's own credentials (FCM_ENDPOINT, the bundled simulators). */
    private readonly standIns: { fcm: boolean; apns: boolean; webpush: boolean },
  ) {}

  async send(given: PushPlanInput, app: AppRecord, now = new Date()): Promise<SendPushResultV1> {
    const input = { ...given, render: given.render && rendersOnce(given.render) };
    const { candidates, users } = await this.candidates(app.id, input.to);
    const plan = planSend(candidates, users, { to: input.to, transactional: input.transactional, devicePolicy: input.devicePolicy, topic: input.topic ?? null }, app.settings.devicePolicy, {
      now,
      staleAfterDays: app.settings.staleAfterDays,
      providers: sendableProviders(app, this.standIns),
      payloadTooLarge: (d) => d.provider === 'webpush' && !webPushPayloadFits(input.messageId, input.render?.(d) ?? input.content),
    });
    await this.messageRecords.recordMessage({ appId: app.id, messageId: input.messageId, campaignId: input.campaignId, transactional: input.transactional, targeted: plan.targeted.length, skipped: plan.skipped as Record<string, number> });
    await this.publish(app.id, input, plan.targeted, plan.skippedDevices, now);
    return { messageId: input.messageId, targeted: plan.targeted.length, skipped: plan.skipped as Record<string, number> };
  }

  async publish(appId: string, input: Omit<PushPlanInput, 'to'>, targeted: DeviceView[], skipped: { device: DeviceView; reason: string }[], now: Date): Promise<void> {
    const at = now.toISOString();
    const targets: DeliveryTargetV1[] = targeted.map((d) => ({ deviceId: d.id, token: d.token!, provider: d.provider, userId: d.userId, content: input.render?.(d) ?? null, lastStatus: d.lastStatus }));
    const requests: DeliveryRequestV1<DeliveryTargetV1>[] = [];
    for (let i = 0; i < targets.length; i += MAX_TARGETS_PER_REQUEST) {
      requests.push({ requestId: randomUUID(), messageId: input.messageId, appId, campaignId: input.campaignId, transactional: input.transactional, content: input.content, targets: targets.slice(i, i + MAX_TARGETS_PER_REQUEST), createdAt: at });
    }
    // Skipped devices go to delivery too: its ledger records their `skipped` outcomes with the others.
    const skips = skipped.map((s) => ({ deviceId: s.device.id, reason: s.reason }));
    for (let i = 0; i < skips.length; i += MAX_TARGETS_PER_REQUEST) {
      requests.push({ requestId: randomUUID(), messageId: input.messageId, appId, campaignId: input.campaignId, transactional: input.transactional, content: input.content, targets: [], skipped: skips.slice(i, i + MAX_TARGETS_PER_REQUEST), createdAt: at });
    }
    await this.requests.send(requests.map((request, i) => ({ key: `${request.messageId}:${i}`, request })));
  }

  private async candidates(appId: string, to: PushTarget): Promise<{ candidates: DeviceView[]; users: Map<string, EligibilityUser> }> {
    const users = new Map<string, EligibilityUser>();
    const device = async (id: string) => (await this.exec.load(deviceDecider, deviceStream(appId, id))).state;
    let ids: string[] = [];
    if ('userId' in to) {
      const user = (await this.exec.load(userDecider, userStream(appId, to.userId))).state;
      ids = Object.keys(user?.devices ?? {});
    } else if ('deviceId' in to) {
      ids = [to.deviceId];
    } else {
      const owner = (await this.exec.load(tokenOwnershipDecider, tokenStream(appId, tokenHash(to.token)))).state?.ownerDeviceId;
      ids = owner ? [owner] : [];
    }
    const candidates: DeviceView[] = [];
    for (const id of ids) {
      const d = await device(id);
      if (!d) continue;
      candidates.push(toDeviceView(d));
      if (d.userId && !users.has(d.userId)) {
        const u = (await this.exec.load(userDecider, userStream(appId, d.userId))).state;
        users.set(d.userId, { userId: d.userId, unsubscribed: u?.unsubscribed ?? false, topics: u?.topics ?? {}, erased: u?.erased ?? false });
      }
    }
    return { candidates, users };
  }
}

/** The payload check and the delivery request both need a device's rendered content: render it once. */
function rendersOnce(render: NonNullable<PushPlanInput['render']>): NonNullable<PushPlanInput['render']> {
  const rendered = new Map<string, PushContentV1 | null>();
  return (device) => {
    if (!rendered.has(device.id)) rendered.set(device.id, render(device));
    return rendered.get(device.id)!;
  };
}
