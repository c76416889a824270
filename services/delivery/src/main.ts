import { bootstrapService } from '@pushledger/platform';
import { deliveryModule } from './delivery.module';

void bootstrapService('delivery', deliveryModule);
