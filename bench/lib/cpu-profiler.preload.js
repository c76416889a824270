// Preloaded into a service (`NODE_OPTIONS=--require <this file>`, with PUSHLEDGER_CPU_PROFILE_DIR set)
// so a bench can profile exactly its measured window: the first SIGWINCH (ignored by default, and not
// one of the signals Nest shuts down on) starts the V8 CPU profiler,
// the next one stops it and writes <dir>/cpu-<pid>-<n>.cpuprofile (open in Chrome DevTools, or
// summarise with bench/lib/profile-summary.ts).
'use strict';
const dir = process.env.PUSHLEDGER_CPU_PROFILE_DIR;
if (dir) {
  const fs = require('fs');
  const path = require('path');
  const inspector = require('inspector');
  const session = new inspector.Session();
  session.connect();
  let running = false;
  let n = 0;
  process.on('SIGWINCH', () => {
    if (!running) {
      running = true;
      session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: 500 }, () => session.post('Profiler.start')));
      return;
    }
    running = false;
    session.post('Profiler.stop', (err, res) => {
      if (err) return;
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `cpu-${process.pid}-${n++}.cpuprofile`);
      fs.writeFileSync(file, JSON.stringify(res.profile));
    });
  });
}
