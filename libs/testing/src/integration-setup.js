// Integration suites talk to real engines and start processes; their time limit is per test.
jest.setTimeout(Number(process.env.PUSHLEDGER_TEST_TIMEOUT_MS || 180000));
