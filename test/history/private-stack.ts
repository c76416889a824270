import * as fs from 'fs';
import * as path from 'path';
import { topicsFor } from '@pushledger/contracts';
import { KafkaRelayPublisher, LIFECYCLE_STREAM_PREFIXES, Relay } from '@pushledger/event-store';
import { createKafka, ensureTopics } from '@pushledger/kafka';
import { createPrivateEventStore, type PrivacyEventStore } from '@pushledger/privacy';
import { repoRoot, startStack, testConfig, type Stack } from '@pushledger/testing';

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

/** Whether the compiled relay process wraps its store in the privacy decorator (the lead wires it in tools/relay). */
function relayProcessIsPrivate(): boolean {
  const file = path.join(repoRoot, 'dist/tools/relay/main.js');
  return fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes('@pushledger/privacy');
}

/**
 * The default stack, with every store behind the privacy decorator. Until the relay process is wired,
 * the same Relay runs in this process over a decorated store (what tools/relay does once wired), so the
 * lifecycle topic carries decrypted facts that the identity service can follow.
 */
export async function startPrivateStack(): Promise<PrivateStack> {
  const ownRelay = !relayProcessIsPrivate();
  const stack = await startStack(ownRelay ? ['gateway', 'registration', 'identity', 'projector'] : undefined);
  const config = testConfig({ POSTGRES_URL: stack.env.POSTGRES_URL });
  const store = await createPrivateEventStore(config, { poolSize: 4 });
  const lifecycleTopic = topicsFor(stack.suffix).deviceLifecycle;
  let relay: Relay | undefined;
  let publisher: KafkaRelayPublisher | undefined;
  if (ownRelay) {
    const relayStore = await createPrivateEventStore(config, { poolSize: 4 });
    const kafka = createKafka(config, 'test-relay');
    await ensureTopics(kafka, [lifecycleTopic], -1);
    publisher = await KafkaRelayPublisher.connect({ kafka, topic: lifecycleTopic });
    relay = new Relay({ store: relayStore, publisher, name: RELAY_CHECKPOINT });
    await relay.start();
    const stopRelay = async () => {
      await relay!.stop();
      await publisher!.close().catch(() => undefined);
      await relayStore.close().catch(() => undefined);
    };
    const stop = stack.stop.bind(stack);
    stack.stop = async () => {
      await stopRelay();
      await stop();
    };
  }
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
