import { Body, Controller, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { randomBytes, randomUUID } from 'crypto';
import { AppRegistry, hashKey } from '@pushledger/apps';
import { isAppId } from '@pushledger/contracts';
import { toAppView } from '@pushledger/domain';
import { Access } from '../auth/access';
import { ApiError } from '../http/api-error';
import { RegistryClient } from '../registry/registry.client';
import { CreateAppDto, UpdateAppDto } from './create-app.dto';

const APP_ERRORS = { app_not_found: () => ApiError.notFound('app') };

/** Keys are made here and shown once; the registration service, which owns the app streams, gets only their hashes. */
@Controller('v1/apps')
@Access('admin')
export class AppsController {
  constructor(
    private readonly registry: RegistryClient,
    private readonly apps: AppRegistry,
  ) {}

  @Post()
  @HttpCode(201)
  async create(@Body() dto: CreateAppDto) {
    const id = `app_${randomBytes(10).toString('hex')}`;
    const writeKey = `plw_${randomBytes(24).toString('base64url')}`;
    const serverKey = `pls_${randomBytes(32).toString('base64url')}`;
    const view = await this.registry.app(
      {
        ...envelope(id),
        type: 'CreateApp',
        name: dto.name,
        writeKeyHash: hashKey(writeKey),
        serverKeyHash: hashKey(serverKey),
        fcm: { projectId: dto.fcm?.projectId ?? 'pushledger-local', serviceAccount: dto.fcm?.serviceAccount ?? null },
        settings: dto.settings ?? {},
      },
      APP_ERRORS,
    );
    await this.apps.refresh(id);
    return { id, name: view.name, writeKey, serverKey, settings: view.settings };
  }

  @Get(':id')
  async get(@Param('id') id: string) {
    const app = await this.apps.get(id);
    if (!app) throw ApiError.notFound('app');
    return toAppView(app);
  }

  @Patch(':id')
  async update(@Param('id') id: string, @Body() dto: UpdateAppDto) {
    if (!isAppId(id)) throw APP_ERRORS.app_not_found();
    const view = await this.registry.app({ ...envelope(id), type: 'ChangeAppSettings', settings: dto.settings }, APP_ERRORS);
    await this.apps.refresh(id);
    return view;
  }
}

function envelope(appId: string) {
  return { commandId: randomUUID(), appId, issuedAt: new Date().toISOString() };
}
