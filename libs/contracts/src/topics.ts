/** Kafka topic names: versioned, owned here so no service spells them on its own. */
export const Topics = {
  ingest: 'pushledger.ingest.v1',
  ingestDlq: 'pushledger.ingest.v1.dlq',
  /** Segment HTTP messages the gateway accepted, with the caller's app in an `app-id` header: only the gateway may write here. */
  gatewayIngest: 'pushledger.gateway-ingest.v1',
  deviceLifecycle: 'pushledger.device-lifecycle.v1',
  registrationCommands: 'pushledger.registration-commands.v1',
  identityCommands: 'pushledger.identity-commands.v1',
  commandReplies: 'pushledger.command-replies.v1',
  deliveryRequests: 'pushledger.delivery-requests.v1',
  deliveryRequestsDlq: 'pushledger.delivery-requests.v1.dlq',
  deliveryOutcomes: 'pushledger.delivery-outcomes.v1',
  /** Commands (ResumeSends) and queries (message outcomes and counters) to the delivery service, keyed by app id; replies on commandReplies. */
  deliveryCommands: 'pushledger.delivery-commands.v1',
  deliveryCommandsDlq: 'pushledger.delivery-commands.v1.dlq',
  campaignCommands: 'pushledger.campaign-commands.v1',
  campaignCommandsDlq: 'pushledger.campaign-commands.v1.dlq',
  receipts: 'pushledger.receipts.v1',
  registrationCommandsDlq: 'pushledger.registration-commands.v1.dlq',
  identityCommandsDlq: 'pushledger.identity-commands.v1.dlq',
  membershipDlq: 'pushledger.device-lifecycle.v1.identity.dlq',
  triggersDlq: 'pushledger.ingest.v1.campaign.dlq',
  receiptsDlq: 'pushledger.receipts.v1.delivery.dlq',
  webhookLifecycleDlq: 'pushledger.device-lifecycle.v1.webhooks.dlq',
  webhookOutcomesDlq: 'pushledger.delivery-outcomes.v1.webhooks.dlq',
  /** The registration service's app changes (AppDirectoryEntryV1, keyed by app id): keeps every gateway's app directory current. */
  apps: 'pushledger.apps.v1',
} as const;
export type TopicName = (typeof Topics)[keyof typeof Topics];

export type TopicMap = { readonly [K in keyof typeof Topics]: string };

/** The topic names with a namespace suffix (empty in production: the public names above). */
export function topicsFor(suffix = ''): TopicMap {
  if (!suffix) return Topics;
  return Object.fromEntries(Object.entries(Topics).map(([k, v]) => [k, `${v}.${suffix}`])) as unknown as TopicMap;
}

export function groupFor(name: string, suffix = ''): string {
  return suffix ? `${name}.${suffix}` : name;
}

/** Every dead-letter topic of a namespace. */
export function deadLetterTopics(suffix = ''): string[] {
  return Object.entries(topicsFor(suffix))
    .filter(([key]) => key.endsWith('Dlq'))
    .map(([, topic]) => topic);
}
