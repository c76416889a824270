/** Kafka topic names: versioned, owned here so no service spells them on its own. */
export const Topics = {
  ingest: 'pushledger.ingest.v1',
  ingestDlq: 'pushledger.ingest.v1.dlq',
  deviceLifecycle: 'pushledger.device-lifecycle.v1',
  registrationCommands: 'pushledger.registration-commands.v1',
  identityCommands: 'pushledger.identity-commands.v1',
  commandReplies: 'pushledger.command-replies.v1',
  deliveryRequests: 'pushledger.delivery-requests.v1',
  deliveryRequestsDlq: 'pushledger.delivery-requests.v1.dlq',
  deliveryOutcomes: 'pushledger.delivery-outcomes.v1',
} as const;
export type TopicName = (typeof Topics)[keyof typeof Topics];
