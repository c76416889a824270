import { MicroserviceOptions } from '@nestjs/microservices';
import { KafkaBatchTransport } from '@pushledger/kafka';
import { bootstrapService } from '@pushledger/platform';
import { campaignModule } from './campaign.module';

void bootstrapService('campaign', campaignModule, {
  start: async (app) => {
    app.connectMicroservice<MicroserviceOptions>({ strategy: app.get(KafkaBatchTransport) });
    await app.startAllMicroservices();
  },
});
