import { InvalidConfigError, OutOfMemoryError } from '@kvkit/tensor-core';
import { describe, expect, it } from 'vitest';
import { CachingAllocator, type DeviceMemory, sizeClass } from '../src/index.js';

/** A device with `capacity` bytes that hands out fake addresses and counts driver calls. */
function fakeDevice(capacity: number) {
  let next = 0x10000;
  const live = new Map<number, number>();
  const calls = { malloc: 0, free: 0, waitIdle: 0 };
  const used = () => [...live.values()].reduce((s, b) => s + b, 0);
  const memory: DeviceMemory = {
    malloc(bytes) {
      calls.malloc++;
      if (used() + bytes > capacity) throw Object.assign(new Error('out of memory'), { cudaCode: 2 });
      const address = next;
      next += bytes + 256;
      live.set(address, bytes);
      return address;
    },
    free(address) {
      calls.free++;
      if (!live.delete(address)) throw new Error(`bad free ${address}`);
    },
    info: () => [capacity - used(), capacity],
    waitIdle: () => void calls.waitIdle++,
  };
  return { memory, calls, used };
}

describe('sizeClass', () => {
  it('rounds to 512 B up to 1 MiB and to 2 MiB above', () => {
    expect(sizeClass(0)).toBe(512);
    expect(sizeClass(1)).toBe(512);
    expect(sizeClass(513)).toBe(1024);
    expect(sizeClass(1 << 20)).toBe(1 << 20);
    expect(sizeClass((1 << 20) + 1)).toBe(2 << 20);
    expect(sizeClass((2 << 20) + 1)).toBe(4 << 20);
  });
});

describe('CachingAllocator', () => {
  it('reuses freed blocks of the same size class without calling the driver', () => {
    const { memory, calls } = fakeDevice(1 << 30);
    const allocator = new CachingAllocator(memory);
    const a = allocator.alloc(1000);
    allocator.free(a);
    const b = allocator.alloc(900); // same 1024-byte class
    expect(b.address).toBe(a.address);
    expect(calls.malloc).toBe(1);
    const c = allocator.alloc(5000); // another class: a new block
    expect(c.address).not.toBe(a.address);
    expect(calls.malloc).toBe(2);
    expect(allocator.stats()).toEqual({ inUse: 1024 + 5120, cached: 0, liveBlocks: 2 });
  });

  it('empties the cache and retries once when the device is full, then reports OutOfMemoryError', () => {
    const { memory, calls, used } = fakeDevice(8 << 20);
    const allocator = new CachingAllocator(memory);
    const blocks = [allocator.alloc(2 << 20), allocator.alloc(2 << 20), allocator.alloc(2 << 20)];
    allocator.free(blocks[0]);
    allocator.free(blocks[1]);
    // 4 MiB cannot come from the driver (2 MiB free) nor the 2 MiB cached blocks: the cache is emptied and it fits.
    const big = allocator.alloc(4 << 20);
    expect(calls.waitIdle).toBe(1);
    expect(allocator.stats().cached).toBe(0);
    expect(used()).toBe(6 << 20);
    let caught: unknown;
    try {
      allocator.alloc(4 << 20);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(OutOfMemoryError);
    expect((caught as OutOfMemoryError).code).toBe('OUT_OF_MEMORY');
    expect((caught as OutOfMemoryError).details).toMatchObject({ requested: 4 << 20, total: 8 << 20 });
    // Still usable after the failure.
    allocator.free(big);
    expect(allocator.alloc(4 << 20).address).toBe(big.address);
  });

  it('rejects double frees and bad sizes, and releaseAll returns everything', () => {
    const { memory, used } = fakeDevice(1 << 30);
    const allocator = new CachingAllocator(memory);
    const a = allocator.alloc(100);
    allocator.free(a);
    expect(() => allocator.free(a)).toThrow(InvalidConfigError);
    expect(() => allocator.alloc(-1)).toThrow(InvalidConfigError);
    allocator.alloc(3 << 20);
    allocator.releaseAll();
    expect(used()).toBe(0);
    expect(allocator.stats()).toEqual({ inUse: 0, cached: 0, liveBlocks: 0 });
  });

  it('passes errors other than out-of-memory through unchanged', () => {
    const allocator = new CachingAllocator({
      malloc: () => {
        throw Object.assign(new Error('invalid context'), { cudaCode: 201 });
      },
      free: () => {},
      info: () => [0, 0],
      waitIdle: () => {},
    });
    expect(() => allocator.alloc(10)).toThrow('invalid context');
  });
});
