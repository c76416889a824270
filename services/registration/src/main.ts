import { bootstrapService } from '@pushledger/platform';
import { registrationModule } from './registration.module';

void bootstrapService('registration', registrationModule);
