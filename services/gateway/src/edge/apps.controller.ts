import { Body, Controller, Get, HttpCode, Inject, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { createECDH, createPrivateKey, randomBytes, randomUUID, type KeyObject } from 'crypto';
import type { PushledgerConfig } from '@pushledger/config';
import { hashKey, identitySecretHash, isAppId, newIdentitySecret, pageInCreationOrder, type AppAdminCommand, type AppApnsV1, type AppDirectoryEntryV1, type AppWebpushV1, type CredentialKind } from '@pushledger/contracts';
import { CONFIG, CredentialSealError, sealCredential, sealIdentitySecretHash } from '@pushledger/platform';
import { AppDirectory } from '../infrastructure/app-directory';
import { OwnerClient, OwnerRefusedError } from '../infrastructure/owner.client';
import { Access, Caller, CurrentCaller } from './auth/access';
import { AppApnsDto, AppWebpushDto, CreateAppDto, RotateKeysDto, UpdateAppDto } from './create-app.dto';
import { ApiError } from './http/api-error';
import { ApiPaged, creationCursor, linkNext, MAX_PAGE, pageLimit } from './http/paging';
import { presentApp } from './present';

/**
 * Keys and the identity secret are made here and shown once; the registration service, which owns the app
 * streams, gets only their hashes. Credentials are sealed here, before any command carries them, and opened
 * only by delivery. Its answer goes into this gateway's app directory at once (the others get it on pushledger.apps.v1).
 */
@ApiTags('Apps')
@Controller('v1/apps')
@Access('admin')
export class AppsController {
  constructor(
    private readonly owners: OwnerClient,
    private readonly directory: AppDirectory,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Create an app (admin)', description: 'Keys are shown once. `fcm.serviceAccount`, `apns.privateKey` and `webpush.privateKey` are write-only: sealed with PUSHLEDGER_SECRET_KEY before it leaves the gateway, opened only by the delivery service.' })
  async create(@Body() dto: CreateAppDto) {
    const id = `app_${randomBytes(10).toString('hex')}`;
    const { writeKey, serverKey } = newKeys();
    const identitySecret = newIdentitySecret();
    const serviceAccount = dto.fcm?.serviceAccount ? this.seal(dto.fcm.serviceAccount, 'fcm.serviceAccount', id) : null;
    const apns = dto.apns ? this.apns(dto.apns, id) : null;
    const webpush = dto.webpush ? this.webpush(dto.webpush, id) : null;
    const app = await this.command({
      ...envelope(id),
      type: 'CreateApp',
      name: dto.name,
      writeKeyHash: hashKey(writeKey),
      serverKeyHash: hashKey(serverKey),
      identitySecretHash: sealIdentitySecretHash(identitySecretHash(identitySecret), id, this.config.secretKey),
      fcm: { projectId: dto.fcm?.projectId ?? 'pushledger-local', serviceAccount },
      ...(apns ? { apns } : {}),
      ...(webpush ? { webpush } : {}),
      settings: dto.settings ?? {},
    });
    return { id, name: app.name, writeKey, serverKey, identitySecret, settings: app.settings };
  }

  /** Every app this gateway's directory holds (it follows pushledger.apps.v1): no keys, no credentials. */
  @Get()
  @ApiOperation({
    summary: 'Every app (admin), oldest first, paged',
    description:
      'Ids, names, settings and whether FCM credentials are set; never keys or credentials. ' +
      `Without \`limit\` a page holds up to ${MAX_PAGE} apps; when more follow, \`Link: </v1/apps?limit=N&after=CURSOR>; rel="next"\`.`,
  })
  @ApiPaged('apps', MAX_PAGE)
  list(@Query('limit') limitParam: string | undefined, @Query('after') afterParam: string | undefined, @Res({ passthrough: true }) res: Response) {
    const limit = pageLimit(limitParam, MAX_PAGE);
    const page = pageInCreationOrder(this.directory.all(), { limit, after: creationCursor(afterParam) });
    linkNext(res, '/v1/apps', limit, page.next);
    return page.items.map(presentApp);
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
    const apns = dto.apns === undefined ? {} : { apns: dto.apns === null ? null : this.apns(dto.apns, id) };
    const webpush = dto.webpush === undefined ? {} : { webpush: dto.webpush === null ? null : this.webpush(dto.webpush, id) };
    return presentApp(await this.command({ ...envelope(id), type: 'ChangeAppSettings', settings: dto.settings ?? {}, ...apns, ...webpush }));
  }

  /** New keys, shown once; the replaced ones keep opening the app for `graceSeconds` (default 0). */
  @Post(':id/keys')
  @HttpCode(201)
  @ApiOperation({ summary: 'New keys for an app (admin)', description: 'Answers `201 { writeKey, serverKey }`, shown once. The previous keys keep working for `graceSeconds` (0 to 2,592,000; default 0), then answer 401.' })
  async rotateKeys(@Param('id') id: string, @Body() dto: RotateKeysDto) {
    if (!isAppId(id)) throw ApiError.notFound('app');
    const { writeKey, serverKey } = newKeys();
    await this.command({ ...envelope(id), type: 'RotateAppKeys', writeKeyHash: hashKey(writeKey), serverKeyHash: hashKey(serverKey), graceSeconds: dto?.graceSeconds ?? 0 });
    return { writeKey, serverKey };
  }

  /** Lifts a credentials pause (delivery keeps it); the app's own server key may too, after fixing its credentials. */
  @Post(':id/sends/resume')
  @Access('admin-or-server')
  @HttpCode(200)
  @ApiOperation({ summary: "Lift a credentials pause (admin, or the app's server key)", description: 'Sends paused because most of a batch failed on credentials go out again. Answers `{ appId, resumed }`; `resumed: false` when the app was not paused.' })
  async resumeSends(@Param('id') id: string, @CurrentCaller() caller: Caller | undefined) {
    if (!isAppId(id) || (caller && caller.app.id !== id)) throw ApiError.notFound('app');
    if (!caller && !(this.directory.get(id) ?? (await this.owners.findApp(id)))) throw ApiError.notFound('app');
    const { resumed } = await this.owners.delivery({ ...envelope(id), type: 'ResumeSends' });
    return { appId: id, resumed };
  }

  @Get(':id/sends')
  @Access('admin-or-server')
  @ApiOperation({ summary: "Whether the app's sends are paused (admin, or the app's server key)", description: 'Answers `{ appId, paused, reason }`; `reason` says why delivery paused them (null when not paused).' })
  async sendsPause(@Param('id') id: string, @CurrentCaller() caller: Caller | undefined) {
    if (!isAppId(id) || (caller && caller.app.id !== id)) throw ApiError.notFound('app');
    if (!caller && !(this.directory.get(id) ?? (await this.owners.findApp(id)))) throw ApiError.notFound('app');
    const reason = await this.owners.sendsPause(id);
    return { appId: id, paused: reason !== null, reason };
  }

  /** The key must be an EC P-256 private key (Apple's .p8): checked here so a bad one is a 400, not a paused app. */
  private apns(dto: AppApnsDto, appId: string): AppApnsV1 {
    let key: KeyObject;
    try {
      key = createPrivateKey(dto.privateKey);
    } catch {
      throw ApiError.validation('apns.privateKey', 'is not a readable PEM private key');
    }
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw ApiError.validation('apns.privateKey', 'must be an EC P-256 key (.p8 from Apple)');
    return { teamId: dto.teamId, keyId: dto.keyId, bundleId: dto.bundleId, production: dto.production, privateKey: this.seal(dto.privateKey, 'apns.privateKey', appId) };
  }

  /** The pair must be a P-256 key pair that belongs together: a mismatch would only show as every push service answering 403. */
  private webpush(dto: AppWebpushDto, appId: string): AppWebpushV1 {
    const publicKey = Buffer.from(dto.publicKey, 'base64url');
    if (publicKey.length !== 65 || publicKey[0] !== 0x04) throw ApiError.validation('webpush.publicKey', 'must be an uncompressed P-256 public key (65 bytes, base64url)');
    const ecdh = createECDH('prime256v1');
    let derived: Buffer;
    try {
      ecdh.setPrivateKey(Buffer.from(dto.privateKey, 'base64url'));
      derived = ecdh.getPublicKey();
    } catch {
      throw ApiError.validation('webpush.privateKey', 'is not a P-256 private key');
    }
    if (!derived.equals(publicKey)) throw ApiError.validation('webpush.publicKey', 'does not belong to webpush.privateKey');
    return { subject: dto.subject, publicKey: dto.publicKey, privateKey: this.seal(dto.privateKey, 'webpush.privateKey', appId) };
  }

  private seal(value: unknown, kind: CredentialKind, appId: string) {
    try {
      return sealCredential(value, kind, appId, this.config.secretKey);
    } catch (err) {
      if (err instanceof CredentialSealError) throw new ApiError(503, 'credentials_unsealable', err.message);
      throw err;
    }
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

function newKeys() {
  return { writeKey: `plw_${randomBytes(24).toString('base64url')}`, serverKey: `pls_${randomBytes(32).toString('base64url')}` };
}

function envelope(appId: string) {
  return { commandId: randomUUID(), appId, issuedAt: new Date().toISOString() };
}
