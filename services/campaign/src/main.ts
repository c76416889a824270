import { bootstrapService } from '@pushledger/platform';
import { campaignModule } from './campaign.module';

void bootstrapService('campaign', campaignModule);
