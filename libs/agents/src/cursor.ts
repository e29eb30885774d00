import { DomainException, ErrorCode, isUuid } from '@agentidp/common';

export interface Cursor {
  createdAt: Date;
  id: string;
}

/** Opaque keyset cursor over (created_at, id): stable while rows are added or removed. */
export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`${cursor.createdAt.toISOString()}|${cursor.id}`, 'utf8').toString(
    'base64url',
  );
}

export function decodeCursor(value: string): Cursor {
  const [time, id, extra] = Buffer.from(value, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(time ?? '');
  if (extra !== undefined || !isUuid(id) || Number.isNaN(createdAt.getTime())) {
    throw new DomainException(ErrorCode.VALIDATION_FAILED, 'The cursor is not valid', [
      { field: 'cursor', problems: ['cursor must be a value returned as nextCursor'] },
    ]);
  }
  return { createdAt, id };
}
