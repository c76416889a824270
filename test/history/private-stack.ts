import { topicsFor } from '@pushledger/contracts';
import { LIFECYCLE_STREAM_PREFIXES } from '@pushledger/event-store';
import { createPrivateEventStore, type PrivacyEventStore } from '@pushledger/privacy';
import { startStack, testConfig, type Stack, type StackPart } from '@pushledger/testing';

export interface PrivateStack {
  stack: Stack;
  /** The stack's event store, with the privacy decorator (decrypting), for checks from the test. */
  store: PrivacyEventStore;
  lifecycleTopic: string;
  /** Resolves once every stored lifecycle fact has been published to the lifecycle topic. */
  relayCaughtUp(): Promise<boolean>;
  stop(): Promise<void>;
}

const RELAY_CHECKPOINT = 'relay.device-lifecycle';

/** The default stack (its relay publishes facts as stored), and its event store opened here for checks from the test. */
export async function startPrivateStack(parts?: StackPart[], env: Record<string, string> = {}): Promise<PrivateStack> {
  const stack = await startStack(parts, env);
  const config = testConfig({ POSTGRES_URL: stack.env.POSTGRES_URL });
  const store = await createPrivateEventStore(config, { poolSize: 4 });
  const lifecycleTopic = topicsFor(stack.suffix).deviceLifecycle;
  return {
    stack,
    store,
    lifecycleTopic,
    async relayCaughtUp() {
      let head: bigint | undefined;
      for await (const e of store.readAll({ direction: 'backwards', maxCount: 1, filter: { streamPrefixes: LIFECYCLE_STREAM_PREFIXES } })) head = e.position;
      const checkpoint = await store.checkpoints.load(RELAY_CHECKPOINT);
      return head === undefined || (checkpoint !== undefined && checkpoint >= head);
    },
    async stop() {
      await store.close().catch(() => undefined);
      await stack.stop();
    },
  };
}
