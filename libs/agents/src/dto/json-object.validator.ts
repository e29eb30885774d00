import { isStorableText } from '@agentidp/common';
import { registerDecorator, type ValidationOptions } from 'class-validator';

/** A plain JSON object of at most `maxBytes` serialised, whose every key and string PostgreSQL can store. */
export function IsJsonObject(maxBytes: number, options?: ValidationOptions) {
  return (target: object, propertyName: string) => {
    registerDecorator({
      name: 'isJsonObject',
      target: target.constructor,
      propertyName,
      options: {
        message: `$property must be a JSON object of at most ${maxBytes} bytes, without NUL bytes or unpaired surrogates`,
        ...options,
      },
      validator: {
        validate(value: unknown) {
          if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
          if (Buffer.byteLength(JSON.stringify(value), 'utf8') > maxBytes) return false;
          return storable(value);
        },
      },
    });
  };
}

function storable(root: unknown): boolean {
  const stack: unknown[] = [root];
  while (stack.length) {
    const value = stack.pop();
    if (typeof value === 'string') {
      if (!isStorableText(value)) return false;
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        if (!isStorableText(key)) return false;
        stack.push(child);
      }
    }
  }
  return true;
}
