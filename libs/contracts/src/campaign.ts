import type { DevicePolicy } from './apps';
import type { PushContentV1 } from './delivery';

export type PushTarget = { userId: string } | { deviceId: string } | { token: string };

/** `POST /v1/push` as it travels to the campaign service. */
export type SendPushCommand = {
  type: 'SendPush';
  commandId: string;
  appId: string;
  issuedAt: string;
  messageId: string;
  to: PushTarget;
  content: PushContentV1;
  transactional: boolean;
  /** null: the app's default. */
  devicePolicy: DevicePolicy | null;
};

export interface SendPushResultV1 {
  messageId: string;
  targeted: number;
  skipped: Record<string, number>;
}

/** `pushledger.receipts.v1`: the app reports that a push was delivered or opened. */
export interface ReceiptV1 {
  appId: string;
  messageId: string;
  deviceId: string;
  kind: 'delivered' | 'opened';
  at: string;
}
