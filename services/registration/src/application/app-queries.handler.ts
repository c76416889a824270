import { Injectable } from '@nestjs/common';
import { AppRegistry } from '@pushledger/apps';
import { AppListResult, AppQueryResult, directoryEntryOf, GetAppQuery, isAppId, ListAppsQuery } from '@pushledger/contracts';

/** The gateway's app reads: its directory at start-up (ListApps) and `GET /v1/apps/{id}` (GetApp). */
@Injectable()
export class AppQueriesHandler {
  constructor(private readonly apps: AppRegistry) {}

  /** From the app's stream, so an app a moment old (or changed a moment ago) reads as it is. */
  async get(query: GetAppQuery): Promise<AppQueryResult> {
    const app = isAppId(query.appId) ? await this.apps.refresh(query.appId) : undefined;
    return { app: app ? directoryEntryOf(app, this.apps.revisionOf(app.id)) : null };
  }

  /** Every app this process's registry holds; one created a moment ago may be missing here, and reaches the gateways on `pushledger.apps.v1`. */
  list(_query: ListAppsQuery): AppListResult {
    return { apps: this.apps.all().map((app) => directoryEntryOf(app, this.apps.revisionOf(app.id))) };
  }
}
