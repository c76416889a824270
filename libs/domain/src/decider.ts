/**
 * A decider: `decide` turns a command into new facts given the current state (never mutates,
 * never does I/O, gets the clock as `now`); `evolve` folds one fact into the state.
 */
export interface Decider<Command, State, Event> {
  readonly initialState: State;
  decide(command: Command, state: State, now: Date): Event[];
  evolve(state: State, event: Event): State;
}

export function fold<State, Event>(decider: Pick<Decider<unknown, State, Event>, 'initialState' | 'evolve'>, events: readonly Event[]): State {
  return events.reduce(decider.evolve, decider.initialState);
}
