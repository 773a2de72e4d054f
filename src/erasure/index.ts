export * from './list.js';
export * from './topic.js';
