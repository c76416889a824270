// Chaos: PostgreSQL immediate shutdown mid-append, restarted, on engines private to this suite (see engine-crash.ts).
import { describeEngineCrash } from './engine-crash';

describeEngineCrash('PostgreSQL immediate shutdown mid-append, restarted', 'postgres');
