import { Module, Type } from '@nestjs/common';
import type { PushledgerConfig } from '@pushledger/config';
import { PlatformModule } from '@pushledger/platform';

export function identityModule(config: PushledgerConfig): Type<unknown> {
  @Module({ imports: [PlatformModule.forRoot({ service: 'identity', config, dependencies: ['kafka', 'postgres'] })] })
  class IdentityModule {}
  return IdentityModule;
}
