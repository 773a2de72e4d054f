export { RegulationExecutor, type ExecutorDeps } from './executor.js';
export { adminRoutes, type AdminDeps, type AdminRoutesOptions } from './routes.js';
export { ErasureStore } from './store.js';
