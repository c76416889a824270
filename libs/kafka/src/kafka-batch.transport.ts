import { applyDecorators, ArgumentsHost, Catch, Controller, LoggerService, RpcExceptionFilter, UseFilters } from '@nestjs/common';
import { BaseRpcContext, CustomTransportStrategy, MessageHandler, Server } from '@nestjs/microservices';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { isObservable, lastValueFrom, Observable, throwError } from 'rxjs';
import { groupFor, TopicMap } from '@pushledger/contracts';
import { ConsumerRunner, InboundMessage, MessageOutcome, PausedPartition, PoisonMessageError } from './consumer-runner';
import { ensureTopics } from './kafka.factory';
import { UnsealableMessageError } from './message-seal';
import { CommandEnvelope, CommandReply, CommandSeals, CommandServer, PLAIN_SEALS } from './request-reply';

/** A pattern names a topic by its key in the topic map: the namespace suffix is the transport's business. */
export type TopicKey = keyof TopicMap;

/**
 * The extras of `@EventPattern(topic, extras)` / `@MessagePattern(topic, extras)`. Event patterns naming one
 * group share one consumer (one subscription per group, as Kafka's assignors expect).
 */
export interface KafkaHandlerOptions {
  /** Consumer group, before the namespace suffix. */
  group: string;
  /** Where poison goes, and messages whose handler keeps failing. */
  dlq: TopicKey;
  /** Messages of one fetched batch handled at once, each lane's in order (default 1; 64 for commands). */
  keyConcurrency?: number;
  /** What must stay in order; the message key by default. */
  laneOf?: (message: KafkaMessage) => string;
  partitionsConsumedConcurrently?: number;
  sessionTimeout?: number;
  /** How often a live member tells the group so, also while a handler works (at most a third of sessionTimeout). */
  heartbeatInterval?: number;
  maxAttempts?: number;
  /** Undecodable messages are another group's to dead-letter: this one passes them over. */
  skipUndecodable?: boolean;
  retryBackoff?: { initialMs: number; maxMs: number };
}

export interface KafkaBatchTransportOptions {
  kafka: Kafka;
  topics: TopicMap;
  /** The namespace suffix of the topics, added to group ids too. */
  suffix?: string;
  logger?: LoggerService;
  /** Partitions of a group handled at once unless its pattern says otherwise. */
  partitionsConsumedConcurrently?: number;
  onOutcome?: (topic: string, outcome: MessageOutcome) => void;
  /** How values between our services are sealed (`commandSeals(config)`); plain JSON without. */
  seals?: CommandSeals;
}

/** What a handler gets with `@Ctx()`: the message's topic, partition, offset, key, headers and heartbeat. */
export class KafkaBatchContext extends BaseRpcContext<[InboundMessage]> {
  getMessage(): InboundMessage {
    return this.args[0];
  }
}

/** Nest's default RPC filter turns any error into a generic one: a poison message would look transient. */
@Catch()
export class KafkaHandlerErrorsFilter implements RpcExceptionFilter {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    return throwError(() => exception);
  }
}

/** A class of Kafka handlers: a Nest controller whose handlers' errors reach the transport as thrown. */
export const KafkaController = (): ClassDecorator => applyDecorators(Controller(), UseFilters(new KafkaHandlerErrorsFilter()));

const DEFAULT_PARTITIONS_CONSUMED_CONCURRENTLY = 8;

interface Stoppable {
  stop(): Promise<void>;
  pausedPartitions(): PausedPartition[];
}

/**
 * Our Nest transport over kafkajs. Each `@MessagePattern` runs a CommandServer (replies buffered and sent
 * once per batch); the `@EventPattern`s of one group run one ConsumerRunner. Both keep the runner's
 * guarantees: offsets committed after the effect, transient errors retried, poison to the DLQ with the
 * reason in headers. The handler gets the decoded JSON value and a KafkaBatchContext.
 */
export class KafkaBatchTransport extends Server implements CustomTransportStrategy {
  private consumers: Stoppable[] = [];

  private readonly seals: CommandSeals;

  constructor(private readonly options: KafkaBatchTransportOptions) {
    super();
    this.seals = options.seals ?? PLAIN_SEALS;
  }

  async listen(callback: (err?: unknown) => void): Promise<void> {
    try {
      await this.start();
    } catch (err) {
      await this.close();
      return callback(err);
    }
    callback();
  }

  private async start(): Promise<void> {
    const { kafka, topics } = this.options;
    await ensureTopics(kafka, Object.values(topics), 8);
    const events = new Map<string, { options: KafkaHandlerOptions; handlers: Map<string, MessageHandler> }>();
    const commands: CommandServer[] = [];
    for (const [pattern, handler] of this.messageHandlers) {
      const options = handler.extras as KafkaHandlerOptions | undefined;
      if (!options?.group || !options.dlq) throw new Error(`Kafka handler for ${pattern}: its pattern's extras need a group and a dlq`);
      if (handler.next) throw new Error(`two handlers for ${pattern}: one topic has one handler in a service`);
      const topic = this.topicOf(pattern);
      if (!handler.isEventHandler) {
        commands.push(
          new CommandServer({
            ...this.runnerOptions(options),
            topic,
            seals: this.seals,
            handle: async (command: CommandEnvelope, msg) => (await this.invoke(handler, command, msg)) as CommandReply,
          }),
        );
        continue;
      }
      const group = events.get(options.group);
      if (group) group.handlers.set(topic, handler);
      else events.set(options.group, { options, handlers: new Map([[topic, handler]]) });
    }
    const runners = [...events.values()].map(
      ({ options, handlers }) =>
        new ConsumerRunner({
          ...this.runnerOptions(options),
          topics: [...handlers.keys()],
          handle: async (msg) => {
            const data = decode(msg, options, this.seals);
            if (data === UNDECODABLE) return;
            await this.invoke(handlers.get(msg.topic)!, data, msg);
          },
        }),
    );
    this.consumers = [...commands, ...runners];
    await Promise.all([...commands, ...runners].map((c) => c.start()));
  }

  private runnerOptions(o: KafkaHandlerOptions) {
    const { kafka, suffix, logger, onOutcome } = this.options;
    return {
      kafka,
      logger,
      onOutcome,
      groupId: groupFor(o.group, suffix),
      dlqTopic: this.topicOf(o.dlq),
      keyConcurrency: o.keyConcurrency,
      laneOf: o.laneOf,
      partitionsConsumedConcurrently: o.partitionsConsumedConcurrently ?? this.options.partitionsConsumedConcurrently ?? DEFAULT_PARTITIONS_CONSUMED_CONCURRENTLY,
      sessionTimeout: o.sessionTimeout,
      heartbeatInterval: o.heartbeatInterval,
      maxAttempts: o.maxAttempts,
      retryBackoff: o.retryBackoff,
    };
  }

  private topicOf(pattern: string): string {
    const topic = (this.options.topics as Record<string, string>)[pattern];
    if (!topic) throw new Error(`Kafka handler pattern ${pattern} names no topic (patterns are keys of the topic map)`);
    return topic;
  }

  /** Runs a handler through Nest (pipes, interceptors, filters) and waits for its result. */
  private async invoke(handler: MessageHandler, data: unknown, msg: InboundMessage): Promise<unknown> {
    try {
      const result = await handler(data, new KafkaBatchContext([msg]));
      return isObservable(result) ? await lastValueFrom(result, { defaultValue: undefined }) : result;
    } catch (err) {
      // Without KafkaHandlerErrorsFilter Nest hands over `{ status, message }`: treated as transient.
      if (err instanceof Error) throw err;
      throw new Error(typeof err === 'object' && err && 'message' in err ? String(err.message) : String(err));
    }
  }

  /** Partitions waiting to try a failing message again, over every handler of the service. */
  pausedPartitions(): PausedPartition[] {
    return this.consumers.flatMap((c) => c.pausedPartitions());
  }

  /** Where this service's handlers dead-letter poison. */
  deadLetterTopics(): string[] {
    return [...new Set([...this.messageHandlers.values()].map((h) => this.topicOf((h.extras as KafkaHandlerOptions).dlq)))];
  }

  async close(): Promise<void> {
    const consumers = this.consumers;
    this.consumers = [];
    await Promise.all(consumers.map((c) => c.stop()));
  }

  on(): never {
    throw new Error('KafkaBatchTransport emits no events');
  }

  unwrap<T>(): T {
    return this.consumers as T;
  }
}

const UNDECODABLE = Symbol('undecodable');

function decode(msg: InboundMessage, options: KafkaHandlerOptions, seals: CommandSeals): unknown {
  try {
    return seals.command.open(msg.value?.toString('utf8') ?? '');
  } catch (err) {
    if (options.skipUndecodable) return UNDECODABLE;
    if (err instanceof UnsealableMessageError) throw new PoisonMessageError('unsealable', err.message);
    throw new PoisonMessageError('invalid_json', 'the message is not valid JSON');
  }
}
