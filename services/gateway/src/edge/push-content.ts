import { IsBoolean, IsIn, IsInt, IsNotEmpty, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { FCM_PAYLOAD_LIMIT_BYTES, PUSH_PRIORITIES, pushPayloadBytes, TOPIC_NAME, type PushContentV1, type PushExtrasV1, type PushOptionsV1, type PushPriority } from '@pushledger/contracts';
import { ApiError } from './http/api-error';

/** FCM's longest time to live (28 days). */
export const MAX_TTL_SECONDS = 2_419_200;

export class PushOptionsDto {
  @IsOptional() @IsInt({ message: 'must be a whole number of seconds' }) @Min(0) @Max(MAX_TTL_SECONDS, { message: `must be at most ${MAX_TTL_SECONDS} (28 days)` }) ttlSeconds?: number;
  @IsOptional() @IsIn(PUSH_PRIORITIES as unknown as PushPriority[]) priority?: PushPriority;
  // apns-collapse-id takes at most 64 bytes.
  @IsOptional() @IsString() @Matches(/^[\x20-\x7e]{1,64}$/, { message: 'must be 1 to 64 printable ASCII characters' }) collapseKey?: string;
  @IsOptional() @IsString() @IsNotEmpty() @MaxLength(256) androidChannelId?: string;
  @IsOptional() @IsBoolean() contentAvailable?: boolean;
  @IsOptional() @IsBoolean() mutableContent?: boolean;
}

/** `sound`, `badge`, `link` as every send API takes them (inside its notification or content). */
export class NotificationExtrasDto {
  @IsOptional() @IsString() @IsNotEmpty() @MaxLength(256) sound?: string;
  @IsOptional() @IsInt({ message: 'must be a whole number' }) @Min(0) @Max(999_999) badge?: number;
  @IsOptional() @IsString() @MaxLength(2048) link?: string;
}

export const topicProperty = () => Matches(TOPIC_NAME, { message: 'must be 1 to 64 letters, digits, _ or -' });

/** What a send API gives; `notification` null is a data-only push. Field names are the request's (`prefix` for nested ones). */
export interface PushContentInput {
  notification: ({ title?: string; body?: string; imageUrl?: string | null } & NotificationExtrasDto) | null;
  data: Record<string, string>;
  options?: PushOptionsDto;
}

const LINK_SCHEME = /^[a-z][a-z0-9+.-]*:/i;
const FORBIDDEN_SCHEMES = ['javascript:', 'data:', 'vbscript:', 'file:'];

function checkLink(link: string, field: string): void {
  let url: URL | null = null;
  try {
    url = new URL(link);
  } catch {
    url = null;
  }
  if (!url || !LINK_SCHEME.test(link) || FORBIDDEN_SCHEMES.includes(url.protocol) || !/^[a-z][a-z0-9+.-]*:\/\/./i.test(link)) {
    throw ApiError.validation(field, 'must be an absolute URL such as https://example.com/a or myapp://screen');
  }
}

/**
 * The push content, once its options agree with each other and it fits FCM's payload limit. Decisions:
 * a data-only push reaches iOS as a background push (content-available, APNs priority 5), so there it cannot
 * turn `contentAvailable` off nor ask for `mutableContent` or an Android channel, and it must carry data or
 * `contentAvailable`; `priority: "high"` stays allowed (it is what wakes an Android app) and APNs gets 5 anyway.
 */
export function pushContentOf(input: PushContentInput, fields: { notification: string; data: string; options: string }): PushContentV1 {
  const options = optionsOf(input.options);
  const n = input.notification;
  if (n === null) {
    if (options.mutableContent) throw ApiError.validation(`${fields.options}.mutableContent`, 'needs a notification: it lets the app change a shown notification');
    if (options.androidChannelId !== undefined) throw ApiError.validation(`${fields.options}.androidChannelId`, 'needs a notification: a data-only push shows nothing');
    if (options.contentAvailable === false) throw ApiError.validation(`${fields.options}.contentAvailable`, 'a data-only push is a background push on iOS, which is content-available');
    if (!Object.keys(input.data).length && !options.contentAvailable) throw ApiError.validation(fields.data, `a data-only push (no ${fields.notification}) needs data or ${fields.options}.contentAvailable`);
  } else {
    if (![n.title, n.body, n.imageUrl, n.sound, n.badge].some((v) => v !== undefined && v !== null && v !== '')) {
      throw ApiError.validation(fields.notification, 'name at least one of title, body, imageUrl, sound, badge (or leave notification out for a data-only push)');
    }
    if (n.link !== undefined) checkLink(n.link, `${fields.notification}.link`);
  }
  const extras: PushExtrasV1 = {};
  if (n === null) extras.dataOnly = true;
  if (n?.sound !== undefined) extras.sound = n.sound;
  if (n?.badge !== undefined) extras.badge = n.badge;
  if (n?.link !== undefined) extras.link = n.link;
  if (Object.keys(options).length) extras.options = options;
  const content: PushContentV1 = { title: n?.title ?? '', body: n?.body ?? '', imageUrl: n?.imageUrl ?? null, data: input.data, ...extras };
  const size = pushPayloadBytes(content);
  if (size > FCM_PAYLOAD_LIMIT_BYTES) {
    throw new ApiError(413, 'payload_too_large', `the push's payload is ${size} bytes; FCM takes at most ${FCM_PAYLOAD_LIMIT_BYTES}`, { limit: FCM_PAYLOAD_LIMIT_BYTES, size });
  }
  return content;
}

function optionsOf(dto: PushOptionsDto | undefined): PushOptionsV1 {
  const out: PushOptionsV1 = {};
  if (!dto) return out;
  if (dto.ttlSeconds !== undefined) out.ttlSeconds = dto.ttlSeconds;
  if (dto.priority !== undefined) out.priority = dto.priority;
  if (dto.collapseKey !== undefined) out.collapseKey = dto.collapseKey;
  if (dto.androidChannelId !== undefined) out.androidChannelId = dto.androidChannelId;
  if (dto.contentAvailable !== undefined) out.contentAvailable = dto.contentAvailable;
  if (dto.mutableContent !== undefined) out.mutableContent = dto.mutableContent;
  return out;
}

/** A data map as FCM takes it: string values only. */
export function stringData(data: Record<string, unknown> | undefined, field: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data ?? {})) {
    if (typeof v !== 'string') throw ApiError.validation(`${field}.${k}`, 'values must be strings (FCM data payloads are string maps)');
    out[k] = v;
  }
  return out;
}
