export * from './record.js';
export * from './log.js';
export * from './copier.js';
