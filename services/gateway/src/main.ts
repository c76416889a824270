import { json, urlencoded } from 'express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { bootstrapService } from '@pushledger/platform';
import { JsonLogger } from '@pushledger/observability';
import { gatewayModule } from './gateway.module';
import { ApiExceptionFilter } from './edge/http/api-exception.filter';
import { rejectDeepJson } from './edge/http/json-depth';
import { apiValidationPipe } from './edge/http/validation';

void bootstrapService('gateway', gatewayModule, (app, config) => {
  // 64 KiB is the API's body limit; `*/json` also accepts `text/plain` bodies some Segment SDKs send.
  app.use(json({ limit: '64kb', type: ['application/json', 'application/*+json', 'text/plain'] }));
  app.use(urlencoded({ extended: false, limit: '64kb' }));
  app.use(rejectDeepJson);
  app.useGlobalFilters(new ApiExceptionFilter(new JsonLogger('gateway', config.logLevel)));
  app.useGlobalPipes(apiValidationPipe());
  const doc = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Pushledger API')
      .setVersion('1')
      .setDescription('Device-token registry and push sender. Errors: {"error":{"code","message","details"?}}. Keys: write key (publishable) or server key (secret), as Bearer or Basic user name; the admin token with `X-Pushledger-App: <appId>` acts as the server key of that app (the web console at /console signs in so). Freshness: a write that stores facts answers `X-Pushledger-Position` (where the store holds them); device and user reads come from the read models and are read-your-writes: they wait (bounded) for `X-Pushledger-Min-Position` / `?minPosition=` and for the last position this gateway wrote for the app, else ask the service owning the streams, which folds them (`X-Pushledger-Read-Source` says which; 503 `unavailable` when it does not answer).')
      .addBearerAuth()
      .addBasicAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, doc, { jsonDocumentUrl: 'docs/openapi.json' });
});
