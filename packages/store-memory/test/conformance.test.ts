import { runStoreConformanceTests } from '@jqjobs/store-test-suite';
import { MemoryStore } from '../src/index.ts';

runStoreConformanceTests({ name: 'MemoryStore', createStore: ({ clock }) => new MemoryStore({ clock, logger: 'silent' }) });
