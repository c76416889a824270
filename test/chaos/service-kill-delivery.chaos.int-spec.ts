/**
 * Chaos: the send path (campaign, delivery) SIGKILLed mid-load, restarted after a second. The client retries with the same
 * Idempotency-Key, as the API asks. Shortened under `npm test`, full under `npm run test:chaos`.
 */
import { describeKills } from './chaos-harness';

describeKills('send services', ['campaign', 'delivery']);
