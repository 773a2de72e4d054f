// Setup file of every test run: the kafkajs fast path goes in before any test file loads kafkajs
// (some import it directly), so tests run the code production runs.
import { installKafkajsFastPath } from '../../src/kafka/fastpath.js';

installKafkajsFastPath();
