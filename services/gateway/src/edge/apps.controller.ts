import { Body, Controller, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { randomBytes, randomUUID } from 'crypto';
import { hashKey, identitySecretHash, isAppId, newIdentitySecret, type AppAdminCommand, type AppDirectoryEntryV1 } from '@pushledger/contracts';
import { AppDirectory } from '../infrastructure/app-directory';
import { OwnerClient, OwnerRefusedError } from '../infrastructure/owner.client';
import { Access } from './auth/access';
import { CreateAppDto, UpdateAppDto } from './create-app.dto';
import { ApiError } from './http/api-error';
import { presentApp } from './present';

/**
 * Keys and the identity secret are made here and shown once; the registration service, which owns the app
 * streams, gets only their hashes. Its answer goes into this gateway's app directory at once (the others get it on pushledger.apps.v1).
 */
@Controller('v1/apps')
@Access('admin')
export class AppsController {
  constructor(
    private readonly owners: OwnerClient,
    private readonly directory: AppDirectory,
  ) {}

  @Post()
  @HttpCode(201)
  async create(@Body() dto: CreateAppDto) {
    const id = `app_${randomBytes(10).toString('hex')}`;
    const writeKey = `plw_${randomBytes(24).toString('base64url')}`;
    const serverKey = `pls_${randomBytes(32).toString('base64url')}`;
    const identitySecret = newIdentitySecret();
    const app = await this.command({
      ...envelope(id),
      type: 'CreateApp',
      name: dto.name,
      writeKeyHash: hashKey(writeKey),
      serverKeyHash: hashKey(serverKey),
      identitySecretHash: identitySecretHash(identitySecret),
      fcm: { projectId: dto.fcm?.projectId ?? 'pushledger-local', serviceAccount: dto.fcm?.serviceAccount ?? null },
      settings: dto.settings ?? {},
    });
    return { id, name: app.name, writeKey, serverKey, identitySecret, settings: app.settings };
  }

  /** From the app's stream, at the registration service. */
  @Get(':id')
  async get(@Param('id') id: string) {
    const app = isAppId(id) ? await this.owners.findApp(id) : null;
    if (!app) throw ApiError.notFound('app');
    return presentApp(app);
  }

  @Patch(':id')
  async update(@Param('id') id: string, @Body() dto: UpdateAppDto) {
    if (!isAppId(id)) throw ApiError.notFound('app');
    return presentApp(await this.command({ ...envelope(id), type: 'ChangeAppSettings', settings: dto.settings }));
  }

  private async command(command: AppAdminCommand): Promise<AppDirectoryEntryV1> {
    try {
      const app = await this.owners.app(command);
      this.directory.apply(app);
      return app;
    } catch (err) {
      if (err instanceof OwnerRefusedError && err.code === 'app_not_found') throw ApiError.notFound('app');
      throw err;
    }
  }
}

function envelope(appId: string) {
  return { commandId: randomUUID(), appId, issuedAt: new Date().toISOString() };
}
