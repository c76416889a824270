import { apnsSummaryOf, webpushSummaryOf, type AppRecord, type AppView } from '@pushledger/contracts';

export type { AppView } from '@pushledger/contracts';

export function toAppView(app: AppRecord): AppView {
  return { id: app.id, name: app.name, fcm: { projectId: app.fcm.projectId, hasServiceAccount: app.fcm.serviceAccount !== null }, ...(app.apns ? { apns: apnsSummaryOf(app.apns) } : {}), ...(app.webpush ? { webpush: webpushSummaryOf(app.webpush) } : {}), settings: app.settings, createdAt: app.createdAt };
}
