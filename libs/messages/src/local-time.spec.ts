import { inWave, instantOfWallClock, localTimeWaves, offsetMinutes } from './local-time';

describe('local-time waves', () => {
  const at = new Date('2026-12-01T09:00:00Z'); // "09:00 wherever the user is"

  it('reads zone offsets, DST included', () => {
    expect(offsetMinutes('UTC', at)).toBe(0);
    expect(offsetMinutes('Asia/Kolkata', at)).toBe(330);
    expect(offsetMinutes('America/New_York', at)).toBe(-300);
    expect(offsetMinutes('America/New_York', new Date('2026-07-01T12:00:00Z'))).toBe(-240);
  });

  it('puts each zone in the wave when its wall clock shows the time', () => {
    const waves = localTimeWaves(at);
    const waveOf = (zone: string) => {
      const found = waves.filter((w) => inWave(w, zone));
      expect(found).toHaveLength(1);
      return found[0];
    };
    expect(waveOf('Asia/Kolkata').dueAt).toBe('2026-12-01T03:30:00.000Z');
    expect(waveOf('Europe/Madrid').dueAt).toBe('2026-12-01T08:00:00.000Z');
    expect(waveOf('America/New_York').dueAt).toBe('2026-12-01T14:00:00.000Z');
    expect(waveOf('Pacific/Kiritimati').dueAt).toBe('2026-11-30T19:00:00.000Z');
    expect(waveOf('Europe/Paris')).toBe(waveOf('Europe/Madrid'));
    // Earliest first, every zone in exactly one wave, ~26 h from first to last.
    expect(waves.map((w) => w.dueAt)).toEqual([...waves.map((w) => w.dueAt)].sort());
    const all = waves.flatMap((w) => [...w.zones]);
    expect(new Set(all).size).toBe(all.length);
    expect(Date.parse(waves[waves.length - 1].dueAt) - Date.parse(waves[0].dueAt)).toBeLessThanOrEqual(26 * 3600_000);
  });

  it('sends devices without a known zone with the UTC wave, at `at`', () => {
    const waves = localTimeWaves(at);
    const fallback = waves.filter((w) => w.fallback);
    expect(fallback).toHaveLength(1);
    expect(fallback[0].dueAt).toBe(at.toISOString());
    expect(inWave(fallback[0], null)).toBe(true);
    expect(inWave(fallback[0], 'Mars/Olympus_Mons')).toBe(true);
    expect(inWave(fallback[0], 'UTC')).toBe(true);
    expect(waves.filter((w) => inWave(w, 'Asia/Tokyo'))).toHaveLength(1);
    expect(waves.filter((w) => inWave(w, null))).toHaveLength(1);
  });

  it('handles the DST edges: a skipped wall time goes out after the jump, a repeated one at its first occurrence', () => {
    // 02:30 does not exist in New York on 2026-03-08 (02:00 → 03:00).
    expect(instantOfWallClock(new Date('2026-03-08T02:30:00Z'), 'America/New_York').toISOString()).toBe('2026-03-08T06:30:00.000Z');
    // 01:30 happens twice on 2026-11-01 (EDT, then EST): the first one, 05:30Z.
    expect(instantOfWallClock(new Date('2026-11-01T01:30:00Z'), 'America/New_York').toISOString()).toBe('2026-11-01T05:30:00.000Z');
  });
});
