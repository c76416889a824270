import * as net from 'net';
import { spawn } from 'child_process';
import { listensOn } from './processes';

describe('listensOn', () => {
  it('names the process that holds a listening port, and no other', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' });
    try {
      expect(listensOn(process.pid, port)).toBe(true);
      expect(listensOn(other.pid!, port)).toBe(false);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      expect(listensOn(process.pid, port)).toBe(false);
    } finally {
      other.kill();
      server.close();
    }
  });
});
