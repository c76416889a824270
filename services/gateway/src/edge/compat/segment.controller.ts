import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { OwnerClient } from '../../infrastructure/owner.client';
import { Access, Caller, CurrentCaller } from '../auth/access';
import { ApiError } from '../http/api-error';
import { MAX_BATCH, publishSegment } from './segment-ingest';

const OK = { schema: { type: 'object', properties: { success: { type: 'boolean', example: true } } } };

/**
 * Segment HTTP Tracking API (what Intilery's `register push` speaks). Answers once the messages are
 * durably on the ingest topic; the registration service applies them. `POST /v1/identify` is served by
 * the native identify route, which hands bodies without `deviceId`/`token` to the same code.
 */
@ApiTags('Segment Tracking API')
@Controller('v1')
export class SegmentController {
  constructor(private readonly owners: OwnerClient) {}

  @Post('track')
  @Access('write')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Segment track',
    description:
      '`event: "register push"` with `properties: { deviceId, fcmToken, deviceType: iOS|Android|Web }` registers the device; `userId` equal to the device id means an anonymous device. Other events are accepted and carry nothing for the registry. A duplicate `messageId` is applied once. 200 means durably queued, not yet applied.',
  })
  @ApiBody({ schema: { type: 'object', required: ['event'], properties: { userId: { type: 'string' }, anonymousId: { type: 'string' }, event: { type: 'string', example: 'register push' }, properties: { type: 'object' }, context: { type: 'object' }, messageId: { type: 'string' }, writeKey: { type: 'string' } } } })
  @ApiOkResponse(OK)
  async track(@CurrentCaller() caller: Caller, @Body() body: unknown) {
    return publishSegment(this.owners, caller, [{ raw: body, type: 'track', field: '' }]);
  }

  @Post('batch')
  @Access('write')
  @HttpCode(200)
  @ApiOperation({ summary: 'Segment batch', description: `Up to ${MAX_BATCH} track/identify messages (each with \`type\`); all are validated before any is queued, and a 400 names \`batch[i].field\`. With identityVerification on, one message naming a user without a valid \`userHash\` (top level or \`context.userHash\`) refuses the whole batch (401 \`user_hash_invalid\`), as a 400 does. Other message types are queued and ignored.` })
  @ApiBody({ schema: { type: 'object', required: ['batch'], properties: { batch: { type: 'array', maxItems: MAX_BATCH, items: { type: 'object' } }, context: { type: 'object' }, writeKey: { type: 'string' } } } })
  @ApiOkResponse(OK)
  async batch(@CurrentCaller() caller: Caller, @Body() body: unknown) {
    const top = isPlain(body) ? body : null;
    if (!top) throw ApiError.validation('body', 'must be an object with a batch array');
    if (!Array.isArray(top.batch)) throw ApiError.validation('batch', 'must be an array of messages');
    if (top.batch.length > MAX_BATCH) throw ApiError.validation('batch', `must hold at most ${MAX_BATCH} messages`);
    const shared = isPlain(top.context) ? top.context : null;
    return publishSegment(
      this.owners,
      caller,
      top.batch.map((raw: unknown, i) => ({ raw: withSharedContext(raw, shared), field: `batch[${i}]` })),
    );
  }
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The batch's top-level `context` applies to each message; the message's own keys win. */
function withSharedContext(raw: unknown, shared: Record<string, unknown> | null): unknown {
  if (!shared || !isPlain(raw) || (raw.context !== undefined && !isPlain(raw.context))) return raw;
  return { ...raw, context: { ...shared, ...(raw.context as Record<string, unknown> | undefined) } };
}
