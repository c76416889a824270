/**
 * Dead-letter topics: what waits in each, and putting it back.
 *
 *   npm run dlq -- list                            depth and reasons of every dead-letter topic
 *   npm run dlq -- redrive <topic> [--limit n]     back onto the source topics, oldest first per partition
 *
 * Engines come from @pushledger/config (KAFKA_BROKERS and the KAFKA_SSL / KAFKA_SASL_* settings, KAFKA_TOPIC_SUFFIX).
 */
import { logLevel } from 'kafkajs';
import { loadConfig } from '@pushledger/config';
import { deadLetterTopics } from '@pushledger/contracts';
import { createKafka, DeadLetters } from '@pushledger/kafka';

const USAGE = 'usage: npm run dlq -- list | redrive <topic> [--limit n]';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const config = loadConfig();
  const topics = deadLetterTopics(config.kafka.topicSuffix);
  const letters = new DeadLetters(createKafka(config, 'pushledger-dlq', undefined, { logLevel: logLevel.ERROR }), config.kafka.topicSuffix);
  if (command === 'list' && rest.length === 0) {
    for (const { topic, depth, reasons } of await letters.list(topics)) {
      const why = Object.entries(reasons).map(([reason, n]) => `${reason}=${n}`).join(' ');
      process.stdout.write(`${topic}\t${depth}${why ? `\t${why}` : ''}\n`);
    }
    return 0;
  }
  if (command === 'redrive' && rest.length >= 1) {
    const [topic, ...flags] = rest;
    if (!topics.includes(topic)) {
      process.stderr.write(`${topic} is not a dead-letter topic; they are:\n${topics.join('\n')}\n`);
      return 2;
    }
    let limit: number | undefined;
    if (flags.length) {
      limit = flags[0] === '--limit' && flags.length === 2 ? Number(flags[1]) : NaN;
      if (!Number.isInteger(limit) || limit <= 0) {
        process.stderr.write(`--limit takes a positive whole number\n${USAGE}\n`);
        return 2;
      }
    }
    const { redriven, bySource } = await letters.redrive(topic, limit);
    process.stdout.write(`redriven ${redriven}${Object.entries(bySource).map(([t, n]) => `\n  ${t}\t${n}`).join('')}\n`);
    return 0;
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`dlq: ${err.message}\n`);
    process.exit(1);
  },
);
