import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access, Caller, CurrentCaller } from './auth/access';
import { presentApp } from './present';

/** Which app a server key opens: a client holding only the key (the console) learns its app's id and name. */
@ApiTags('Apps')
@Controller('v1/me')
@Access('server')
export class MeController {
  @Get()
  @ApiOperation({ summary: "The app this server key belongs to (no keys, no credentials)", description: 'With the admin token, the app named in `X-Pushledger-App`.' })
  me(@CurrentCaller() caller: Caller) {
    return { app: presentApp(caller.app) };
  }
}
