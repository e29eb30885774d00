import { Injectable, type PipeTransform } from '@nestjs/common';
import { DomainException } from './domain.exception';
import { ErrorCode } from './error-code.enum';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** Path ids: anything but a UUID is a 400 INVALID_UUID, never a database error. */
@Injectable()
export class ParseUuidPipe implements PipeTransform<unknown, string> {
  transform(value: unknown): string {
    if (!isUuid(value)) {
      throw new DomainException(ErrorCode.INVALID_UUID, 'The id in the path must be a UUID');
    }
    return value.toLowerCase();
  }
}
