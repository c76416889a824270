import type { Producer } from 'kafkajs';
import { routingOf, type DeliveryRequestV1, type OutgoingTargetV1, type SealedDeliveryTargetV1, type TopicMap } from '@pushledger/contracts';
import type { RecipientSeals } from '@pushledger/privacy';

/** A delivery request as the sender builds it, with its targets in clear, and its Kafka key. */
export interface OutgoingDeliveryRequest {
  key: string;
  request: DeliveryRequestV1<OutgoingTargetV1>;
}

/**
 * Hands delivery requests over: each target's token, user id and content sealed with its device's key (so the
 * topic and its DLQ hold nothing an erasure leaves readable), acknowledged by every in-sync replica.
 */
export class DeliveryRequests {
  constructor(
    private readonly seals: RecipientSeals,
    private readonly producer: Producer,
    private readonly topics: TopicMap,
  ) {}

  async send(outgoing: OutgoingDeliveryRequest[]): Promise<void> {
    if (!outgoing.length) return;
    const messages = await Promise.all(outgoing.map(async ({ key, request }) => ({ key, value: JSON.stringify({ ...request, targets: await this.sealed(request.appId, request.targets) } satisfies DeliveryRequestV1) })));
    await this.producer.send({ topic: this.topics.deliveryRequests, acks: -1, messages });
  }

  private async sealed(appId: string, targets: OutgoingTargetV1[]): Promise<SealedDeliveryTargetV1[]> {
    const recipients = await this.seals.seal(appId, targets.map((t) => ({ deviceId: t.deviceId, value: { token: t.token, userId: t.userId, content: t.content } })));
    return targets.map((t, i) => ({ ...routingOf(t), recipient: recipients[i] }));
  }
}
