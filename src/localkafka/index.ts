export { brokerAnswers, freePort, LocalKafkaError, portIsFree, startLocalBroker, stopBrokerGroup, type LocalBroker, type LocalBrokerOptions } from './broker.js';
export { ensureJars, jarDir, jarsInstalled, type JarSet } from './jars.js';
export { checkJava, checkMaven, javaRuntime, type JavaRuntime, type PrereqOptions } from './prereq.js';
export { clearBrokerState, findRunningBroker, readBrokerState, writeBrokerState, type BrokerState } from './state.js';
