import { givenFor } from './given';
import { T0, register, registered } from './fixtures';
import { deviceDecider } from '../src/device.decider';
import { TokenInvalidatedError } from '../src/domain-errors';

const given = givenFor(deviceDecider);

describe('given/when/then helper', () => {
  it('fails when the facts differ', () => {
    expect(() => given([]).when(register('tok-a'), T0).then([])).toThrow();
  });

  it('fails when the expected error is not thrown', () => {
    expect(() => given([registered('tok-a')]).when(register('tok-a'), T0).thenThrows(TokenInvalidatedError)).toThrow();
  });
});
