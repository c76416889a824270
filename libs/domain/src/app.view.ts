import type { AppRecord, AppSettingsV1 } from '@pushledger/contracts';

/** The app as the API shows it: credentials never leave the store, only whether there are any. */
export interface AppView {
  id: string;
  name: string;
  fcm: { projectId: string; hasServiceAccount: boolean };
  settings: AppSettingsV1;
  createdAt: string;
}

export function toAppView(app: AppRecord): AppView {
  return { id: app.id, name: app.name, fcm: { projectId: app.fcm.projectId, hasServiceAccount: app.fcm.serviceAccount !== null }, settings: app.settings, createdAt: app.createdAt };
}
