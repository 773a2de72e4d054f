// Empty view states (LMDB with the view's databases) for unit tests, each in a temp folder of its
// own: `open()` in a test, `closeAll()` in afterEach.
import { silentLogger } from '../../src/common/log.js';
import { openState, type StateStore } from '../../src/state/statestore.js';
import { VIEW_DATABASES } from '../../src/view/viewstore.js';
import { tempDir } from './env.js';

export interface ViewStates {
  open(): Promise<StateStore>;
  /** Closes `state` (another thread's handles on one of them, say) before the states open() made. */
  closeFirst(state: StateStore): void;
  closeAll(): Promise<void>;
}

export function viewStates(prefix: string): ViewStates {
  const dirs: ReturnType<typeof tempDir>[] = [];
  const states: StateStore[] = [];
  return {
    async open() {
      const dir = tempDir(prefix);
      dirs.push(dir);
      const state = await openState({ path: dir.path, databases: VIEW_DATABASES, identity: { t: 1 }, log: silentLogger() });
      states.push(state);
      return state;
    },
    closeFirst(state) {
      states.unshift(state);
    },
    async closeAll() {
      for (const s of states.splice(0)) await s.close();
      for (const d of dirs.splice(0)) d.remove();
    },
  };
}
