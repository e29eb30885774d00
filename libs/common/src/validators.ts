import { registerDecorator, ValidateIf, type ValidationOptions } from 'class-validator';

/**
 * Optional, but never null: `undefined` skips validation, `null` is validated (and refused by the
 * type check that follows). Plain `@IsOptional()` would let `null` through to a NOT NULL column.
 */
export function IsOptionalNotNull(): PropertyDecorator {
  return ValidateIf((_object, value) => value !== undefined);
}

/** True for text PostgreSQL stores as sent: well-formed UTF-16 (no lone surrogate) and no NUL. */
export function isStorableText(value: string): boolean {
  return value.isWellFormed() && !value.includes('\u0000');
}

/**
 * A string of `min`..`max` characters counted as PostgreSQL counts them (code points, not UTF-16
 * units), well formed, without NUL bytes.
 */
export function IsText(min: number, max: number, options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'isText',
      target: target.constructor,
      propertyName: propertyName as string,
      options: {
        message: `$property must be text of ${min} to ${max} characters, without NUL bytes or unpaired surrogates`,
        ...options,
      },
      validator: {
        validate(value: unknown) {
          if (typeof value !== 'string' || !isStorableText(value)) return false;
          // Code points, as varchar(n) counts; cheap UTF-16 bounds first.
          if (value.length < min || value.length > max * 2) return false;
          const length = Array.from(value).length;
          return length >= min && length <= max;
        },
      },
    });
  };
}
