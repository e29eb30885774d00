import { requestLogMessage } from '@agentidp/common';
import { AppLogger } from './logger';

describe(AppLogger.name, () => {
  let written: string[];
  let write: jest.SpyInstance;

  beforeEach(() => {
    written = [];
    const capture = (chunk: string | Uint8Array): boolean => {
      written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    };
    write = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
  });

  afterEach(() => write.mockRestore());

  it('writes a request’s id as a JSON field, and nothing more for other lines', () => {
    const logger = new AppLogger('Test', { json: true, colors: false });
    logger.log(requestLogMessage('Serving', 'req-42'), 'Svc');
    logger.log('Background work', 'Svc');
    const [tied, plain] = written.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(tied).toMatchObject({ message: 'Serving', requestId: 'req-42', context: 'Svc' });
    expect(plain).toMatchObject({ message: 'Background work', context: 'Svc' });
    expect(plain).not.toHaveProperty('requestId');
  });

  it('tags a request’s lines on a terminal', () => {
    const logger = new AppLogger('Test', { json: false, colors: false });
    logger.log(requestLogMessage('Serving', 'req-42'), 'Svc');
    logger.log(requestLogMessage('Starting', undefined), 'Svc');
    expect(written[0]).toContain('Serving [req req-42]');
    expect(written[1]).toContain('Starting');
    expect(written[1]).not.toContain('[req');
  });
});
