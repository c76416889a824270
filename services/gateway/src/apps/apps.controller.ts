import { Body, Controller, Get, HttpCode, Inject, Param, Patch, Post } from '@nestjs/common';
import { randomBytes, randomUUID } from 'crypto';
import { AppEvent, AppRecord, AppSettingsV1, DEFAULT_APP_SETTINGS } from '@pushledger/contracts';
import { EventStore } from '@pushledger/event-store';
import { AppRegistry, hashKey } from '@pushledger/apps';
import { EVENT_STORE } from '../gateway.tokens';
import { Access } from '../auth/access';
import { ApiError } from '../http/api-error';
import { CreateAppDto, UpdateAppDto } from './create-app.dto';

const publicView = (app: AppRecord) => ({ id: app.id, name: app.name, fcm: { projectId: app.fcm.projectId, hasServiceAccount: app.fcm.serviceAccount !== null }, settings: app.settings, createdAt: app.createdAt });

@Controller('v1/apps')
@Access('admin')
export class AppsController {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly apps: AppRegistry,
  ) {}

  @Post()
  @HttpCode(201)
  async create(@Body() dto: CreateAppDto) {
    const id = `app_${randomBytes(10).toString('hex')}`;
    const writeKey = `plw_${randomBytes(24).toString('base64url')}`;
    const serverKey = `pls_${randomBytes(32).toString('base64url')}`;
    const settings: AppSettingsV1 = { ...DEFAULT_APP_SETTINGS, ...stripUndefined(dto.settings ?? {}) };
    const event: AppEvent = {
      type: 'AppCreated',
      data: { appId: id, name: dto.name, writeKeyHash: hashKey(writeKey), serverKeyHash: hashKey(serverKey), fcm: { projectId: dto.fcm?.projectId ?? 'pushledger-local', serviceAccount: dto.fcm?.serviceAccount ?? null }, settings, createdAt: new Date().toISOString() },
    };
    await this.append(id, event, 'no_stream');
    return { id, name: dto.name, writeKey, serverKey, settings };
  }

  @Get(':id')
  async get(@Param('id') id: string) {
    const app = await this.apps.get(id);
    if (!app) throw ApiError.notFound('app');
    return publicView(app);
  }

  @Patch(':id')
  async update(@Param('id') id: string, @Body() dto: UpdateAppDto) {
    const app = await this.apps.get(id);
    if (!app) throw ApiError.notFound('app');
    const settings: AppSettingsV1 = { ...app.settings, ...stripUndefined(dto.settings) };
    await this.append(id, { type: 'AppSettingsChanged', data: { appId: id, settings, changedAt: new Date().toISOString() } }, 'stream_exists');
    return publicView({ ...app, settings });
  }

  private async append(appId: string, event: AppEvent, expectedRevision: 'no_stream' | 'stream_exists') {
    const now = new Date().toISOString();
    const eventId = randomUUID();
    await this.store.appendToStream(`app-${appId}`, [{ eventId, type: event.type, data: event.data, metadata: { appId, correlationId: eventId, causationId: eventId, occurredAt: now, schemaVersion: 1 } }], { expectedRevision });
    this.apps.applyLocal(event);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
