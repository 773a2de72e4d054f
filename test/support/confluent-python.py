# Confluent's own Python client against trackhouse, for test/integration/schema-registry-python.test.ts:
# reads `want` records of the topic through AvroDeserializer with the query port's /registry as its
# registry, then serializes one record with AvroSerializer (auto-registering trackhouse's schema,
# as a producer's default does). Prints one JSON object: the decoded events (times as epoch
# milliseconds) and the serialized bytes as hex.
import datetime
import json
import sys
import time

from confluent_kafka import DeserializingConsumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

args = json.loads(sys.argv[1])
registry = SchemaRegistryClient({'url': args['registry'], 'basic.auth.user.info': args['key'] + ':'})
consumer = DeserializingConsumer({
    'bootstrap.servers': args['brokers'],
    'group.id': 'confluent-python-test',
    'auto.offset.reset': 'earliest',
    'value.deserializer': AvroDeserializer(registry),
})
consumer.subscribe([args['topic']])
events = []
deadline = time.time() + 60
while len(events) < args['want'] and time.time() < deadline:
    message = consumer.poll(1.0)
    if message is None:
        continue
    if message.error():
        raise RuntimeError(str(message.error()))
    events.append(message.value())
consumer.close()

serializer = AvroSerializer(registry, open(args['schema_file']).read())
serialized = serializer(args['record'], SerializationContext(args['topic'], MessageField.VALUE))


def millis(value):
    if isinstance(value, datetime.datetime):
        return round(value.timestamp() * 1000)
    raise TypeError(type(value).__name__)


print(json.dumps({'events': events, 'serialized': serialized.hex(), 'subjects': registry.get_subjects()}, default=millis))
