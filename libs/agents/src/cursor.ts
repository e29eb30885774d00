import { DomainException, ErrorCode, isUuid } from '@agentidp/common';

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

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
  const [time = '', id, extra] = Buffer.from(value, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(time);
  // Only what encodeCursor produces: an exact ISO instant that survives the round trip.
  if (
    extra !== undefined ||
    !isUuid(id) ||
    !ISO_INSTANT.test(time) ||
    Number.isNaN(createdAt.getTime()) ||
    createdAt.toISOString() !== time
  ) {
    throw new DomainException(ErrorCode.VALIDATION_FAILED, 'The cursor is not valid', [
      { field: 'cursor', problems: ['cursor must be a value returned as nextCursor'] },
    ]);
  }
  return { createdAt, id };
}
