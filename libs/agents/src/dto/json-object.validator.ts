import { registerDecorator, type ValidationOptions } from 'class-validator';

/** A plain JSON object whose serialised form fits in `maxBytes`. */
export function IsJsonObject(maxBytes: number, options?: ValidationOptions) {
  return (target: object, propertyName: string) => {
    registerDecorator({
      name: 'isJsonObject',
      target: target.constructor,
      propertyName,
      options: {
        message: `$property must be a JSON object of at most ${maxBytes} bytes`,
        ...options,
      },
      validator: {
        validate(value: unknown) {
          if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
          return Buffer.byteLength(JSON.stringify(value), 'utf8') <= maxBytes;
        },
      },
    });
  };
}
