// Chaos: FerretDB SIGKILLed and restarted, on engines private to this suite (see engine-crash.ts).
import { describeEngineCrash } from './engine-crash';

describeEngineCrash('FerretDB SIGKILLed and restarted', 'ferretdb');
