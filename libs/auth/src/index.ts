export * from './bearer-auth.guard';
export * from './bearer-token-verifier';
export * from './principal';
export * from './public.decorator';
export * from './scope.enum';
