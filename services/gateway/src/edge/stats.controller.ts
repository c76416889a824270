import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { OwnerClient } from '../infrastructure/owner.client';
import { Access, Caller, CurrentCaller } from './auth/access';
import { ApiError } from './http/api-error';

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const MAX_DAYS = 366;
const DAY_MS = 86_400_000;

function day(value: string | undefined, field: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (!DATE.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`)) || new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) !== value) {
    throw ApiError.validation(field, 'must be a date YYYY-MM-DD');
  }
  return value;
}

/**
 * Device analytics computed by the registration service from the history itself, so they answer for any
 * past period and survive erasure (facts stay countable; only personal data and tokens are gone).
 */
@ApiTags('Stats')
@Controller('v1/stats')
@Access('server')
export class StatsController {
  constructor(private readonly owners: OwnerClient) {}

  @Get('devices')
  @ApiOperation({ summary: "Counts of the app's devices by status, last delivery status, platform, provider and app version (current state)" })
  async devices(@CurrentCaller() caller: Caller) {
    const { position, ...counts } = await this.owners.deviceStats(caller.app.id);
    return { appId: caller.app.id, ...counts, position, computedAt: new Date().toISOString() };
  }

  @Get('devices/daily')
  @ApiOperation({ summary: 'Tokens registered (new device or new token), invalidated and expired per UTC day, from the history' })
  @ApiQuery({ name: 'from', required: false, description: 'first day, YYYY-MM-DD (default: 29 days before `to`)' })
  @ApiQuery({ name: 'to', required: false, description: 'last day, YYYY-MM-DD, inclusive (default: today)' })
  async daily(@CurrentCaller() caller: Caller, @Query('from') fromParam?: string, @Query('to') toParam?: string) {
    const { from, to } = range(fromParam, toParam);
    const list = await this.owners.dailyDeviceStats(caller.app.id, from, to);
    const totals = list.reduce((t, d) => ({ registered: t.registered + d.registered, invalidated: t.invalidated + d.invalidated, expired: t.expired + d.expired }), { registered: 0, invalidated: 0, expired: 0 });
    return { appId: caller.app.id, from, to, days: list, totals };
  }

  @Get('pushes/daily')
  @ApiOperation({
    summary: 'Pushes sent, bounced, invalidated, failed and skipped per UTC day (the day the outcome was recorded), and receipts delivered and opened (the day they report)',
    description: 'Counters kept by the delivery service in the transactions that record outcomes and receipts: the same cost at any volume. Counted from the version that introduced them on.',
  })
  @ApiQuery({ name: 'from', required: false, description: 'first day, YYYY-MM-DD (default: 29 days before `to`)' })
  @ApiQuery({ name: 'to', required: false, description: 'last day, YYYY-MM-DD, inclusive (default: today)' })
  async pushesDaily(@CurrentCaller() caller: Caller, @Query('from') fromParam?: string, @Query('to') toParam?: string) {
    const { from, to } = range(fromParam, toParam);
    const days = await this.owners.dailyPushStats(caller.app.id, from, to);
    const totals = { sent: 0, bounced: 0, invalidated: 0, failed: 0, skipped: 0, delivered: 0, opened: 0 };
    for (const d of days) for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += d[k];
    return { appId: caller.app.id, from, to, days, totals };
  }
}

function range(fromParam: string | undefined, toParam: string | undefined): { from: string; to: string } {
  const to = day(toParam, 'to', new Date().toISOString().slice(0, 10));
  const from = day(fromParam, 'from', new Date(Date.parse(`${to}T00:00:00Z`) - 29 * DAY_MS).toISOString().slice(0, 10));
  const span = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS + 1;
  if (span < 1) throw ApiError.validation('from', 'must not be after to');
  if (span > MAX_DAYS) throw ApiError.validation('from', `the range may span at most ${MAX_DAYS} days`);
  return { from, to };
}
