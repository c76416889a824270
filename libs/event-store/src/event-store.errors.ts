import type { CurrentRevision, ExpectedRevision } from './event-store.port';

export class EventStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The stream was not at the revision the writer expected; `actual` is where it is now. */
export class WrongExpectedVersionError extends EventStoreError {
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    readonly actual: CurrentRevision,
  ) {
    super(`wrong expected version on ${stream}: expected ${String(expected)}, actual ${String(actual)}`);
  }
}

/** A data key claimed by an append was created, replaced or destroyed meanwhile; nothing was written. */
export class DataKeyConflictError extends EventStoreError {
  constructor(readonly subject: { appId: string; kind: string; subject: string }) {
    super(`data key of ${subject.kind} ${subject.appId} changed`);
  }
}

export class StreamNotFoundError extends EventStoreError {
  constructor(readonly stream: string) {
    super(`stream not found: ${stream}`);
  }
}

/** Some, but not all, of a batch's event ids are already stored (or stored elsewhere): nothing was written. */
export class DuplicateEventIdError extends EventStoreError {
  constructor(
    readonly stream: string,
    readonly eventIds: string[],
  ) {
    super(`events already stored elsewhere or a partial retry on ${stream}: ${eventIds.slice(0, 5).join(', ')}${eventIds.length > 5 ? ', ...' : ''}`);
  }
}

export class InvalidEventError extends EventStoreError {}
