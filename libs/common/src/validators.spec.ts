import { IsString, validateSync } from 'class-validator';
import { IsOptionalNotNull, IsText, isStorableText } from './validators';

class Named {
  @IsText(2, 5)
  name!: unknown;
}

class WithOptionalNote {
  @IsOptionalNotNull()
  @IsString()
  note?: unknown;
}

function accepts(value: unknown): boolean {
  const target = new Named();
  target.name = value;
  return validateSync(target).length === 0;
}

const EMOJI = '\u{1F600}';
const LONE_HIGH = '\uD83D';
const LONE_LOW = '\uDE00';

describe(isStorableText.name, () => {
  it('accepts well-formed text, astral characters included', () => {
    expect(isStorableText('agent \u00e9 \u4e2d')).toBe(true);
    expect(isStorableText(EMOJI)).toBe(true);
    expect(isStorableText('')).toBe(true);
  });

  it('refuses a NUL character', () => {
    expect(isStorableText('a\u0000b')).toBe(false);
  });

  it('refuses lone surrogates', () => {
    expect(isStorableText(`a${LONE_HIGH}`)).toBe(false);
    expect(isStorableText(`${LONE_LOW}a`)).toBe(false);
    expect(isStorableText(`${LONE_LOW}${LONE_HIGH}`)).toBe(false);
  });
});

describe(IsText.name, () => {
  it('accepts text within the bounds', () => {
    expect(accepts('ab')).toBe(true);
    expect(accepts('abcde')).toBe(true);
  });

  it('refuses text outside the bounds', () => {
    expect(accepts('a')).toBe(false);
    expect(accepts('abcdef')).toBe(false);
    expect(accepts('')).toBe(false);
  });

  it('counts code points, not UTF-16 units, against the maximum', () => {
    expect(accepts(EMOJI.repeat(5))).toBe(true);
    expect(accepts(EMOJI.repeat(6))).toBe(false);
    expect(accepts(`${EMOJI.repeat(4)}a`)).toBe(true);
  });

  it('counts code points, not UTF-16 units, against the minimum', () => {
    expect(EMOJI).toHaveLength(2);
    expect(accepts(EMOJI)).toBe(false);
    expect(accepts(EMOJI.repeat(2))).toBe(true);
  });

  it('refuses NUL bytes and lone surrogates', () => {
    expect(accepts('ab\u0000')).toBe(false);
    expect(accepts(`ab${LONE_HIGH}`)).toBe(false);
    expect(accepts(`${LONE_LOW}ab`)).toBe(false);
  });

  it('refuses values that are not strings', () => {
    for (const value of [12345, null, undefined, ['abc'], { length: 3 }]) {
      expect(accepts(value)).toBe(false);
    }
  });

  it('names the bounds in its message', () => {
    const target = new Named();
    target.name = 'a';
    const [error] = validateSync(target);
    expect(error.constraints?.isText).toBe(
      'name must be text of 2 to 5 characters, without NUL bytes or unpaired surrogates',
    );
  });
});

describe(IsOptionalNotNull.name, () => {
  const errorsFor = (note: unknown) => {
    const target = new WithOptionalNote();
    if (note !== undefined) target.note = note;
    return validateSync(target);
  };

  it('skips validation of an absent value', () => {
    expect(errorsFor(undefined)).toEqual([]);
  });

  it('validates null, so the type check refuses it', () => {
    expect(errorsFor(null)).toHaveLength(1);
  });

  it('validates a present value', () => {
    expect(errorsFor('note')).toEqual([]);
    expect(errorsFor(42)).toHaveLength(1);
  });
});
