import { bootstrapService } from '@pushledger/platform';
import { identityModule } from './identity.module';

void bootstrapService('identity', identityModule);
