import type { Decider } from '../src/decider';

type Expect = (actual: unknown) => { toEqual(expected: unknown): void; toThrow(expected?: unknown): void };

// Taken from the global rather than imported so this file type-checks outside jest too.
function jestExpect(): Expect {
  const e = (globalThis as { expect?: Expect }).expect;
  if (!e) throw new Error('given/when/then assertions run under jest');
  return e;
}

/**
 * given(events).when(command, now).then(events) / .thenThrows(ErrorClass), for one decider.
 * `then` also folds the new facts, so every expected fact must be one evolve accepts.
 */
export function givenFor<C, S, E>(decider: Decider<C, S, E>) {
  return function given(history: readonly E[] = []) {
    const state = history.reduce(decider.evolve, decider.initialState);
    return {
      state,
      when(command: C, now: Date) {
        const decide = (): E[] => decider.decide(command, state, now);
        return {
          then(expected: readonly E[]): S {
            const actual = decide();
            jestExpect()(actual).toEqual(expected);
            return actual.reduce(decider.evolve, state);
          },
          thenThrows(errorClass: abstract new (...args: never[]) => Error): void {
            jestExpect()(decide).toThrow(errorClass);
          },
          /** The new facts, for assertions that are not a whole list. */
          events: decide,
        };
      },
    };
  };
}
