import { describe, expect, it } from 'vitest';
import { HandoffStash } from '../src/index.ts';

describe('HandoffStash', () => {
  const item = (id: string, queue: string) => ({ id, queue });

  it('hands out matching items oldest first, up to the limit, and keeps the rest', () => {
    const s = new HandoffStash<{ id: string; queue: string }>((i) => i.queue);
    s.push(item('1', 'a'), 10);
    s.push(item('2', 'b'), 20);
    s.push(item('3', 'a'), 30);
    expect(s.has(['b'])).toBe(true);
    expect(s.has(['c'])).toBe(false);
    expect(s.take(['a'], 5).map((i) => i.id)).toEqual(['1', '3']);
    expect(s.take(null, 0)).toEqual([]);
    expect(s.size).toBe(1);
    expect(s.take(null, 5).map((i) => i.id)).toEqual(['2']);
    expect(s.has(null)).toBe(false);
  });

  it('gives up what waited too long, and everything on takeAll', () => {
    const s = new HandoffStash<{ id: string; queue: string }>((i) => i.queue);
    s.push(item('1', 'a'), 10);
    s.push(item('2', 'a'), 20);
    s.push(item('3', 'a'), 30);
    expect(s.takeStale(20).map((i) => i.id)).toEqual(['1', '2']);
    expect(s.takeAll().map((i) => i.id)).toEqual(['3']);
    expect(s.size).toBe(0);
  });
});
