/** @type {import('jest').Config} */
const aliases = [
  'config',
  'common',
  'database',
  'agents',
  'credentials',
  'token',
  'auth',
  'vault',
  'health',
  'audit',
  'abuse',
  'metrics',
];

module.exports = {
  rootDir: '.',
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test', '<rootDir>/migrations'],
  testRegex: '.*\\.(spec|e2e-spec)\\.ts$',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }],
  },
  moduleNameMapper: Object.fromEntries(
    aliases.map((name) => [`^@agentidp/${name}$`, `<rootDir>/libs/${name}/src`]),
  ),
  testTimeout: 60000,
  maxWorkers: 2,
};
