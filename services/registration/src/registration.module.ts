import { Module, Type } from '@nestjs/common';
import type { PushledgerConfig } from '@pushledger/config';
import { PlatformModule } from '@pushledger/platform';

export function registrationModule(config: PushledgerConfig): Type<unknown> {
  @Module({ imports: [PlatformModule.forRoot({ service: 'registration', config, dependencies: ['kafka', 'postgres'] })] })
  class RegistrationModule {}
  return RegistrationModule;
}
