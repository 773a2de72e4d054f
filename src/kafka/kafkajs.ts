// The project's one entry to kafkajs: installs the fast path (./fastpath.ts) before kafkajs loads
// its modules. Import kafkajs values from here, never from 'kafkajs' directly (types may be).
import './fastpath.js';
import kafkajs from 'kafkajs';

export const Kafka = kafkajs.Kafka;
export type Kafka = import('kafkajs').Kafka;
export const logLevel = kafkajs.logLevel;
export type logLevel = import('kafkajs').logLevel;
export const CompressionTypes = kafkajs.CompressionTypes;
export type CompressionTypes = import('kafkajs').CompressionTypes;
export const CompressionCodecs = kafkajs.CompressionCodecs;
export const ConfigResourceTypes = kafkajs.ConfigResourceTypes;
export type ConfigResourceTypes = import('kafkajs').ConfigResourceTypes;
export const AssignerProtocol = kafkajs.AssignerProtocol;
