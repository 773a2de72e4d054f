# Segment's and PostHog's Python SDKs, unchanged, pointed at trackhouse's ingest, for
# test/integration/ingest-python-sdks.test.ts. Python reads the argument's integers exactly and
# both SDKs write them with json.dumps (", " and ": " between members), so the bodies carry 64-bit
# ids as JSON numbers, as a Python service's calls do. Prints {"errors": [...]}.
import json
import sys

import posthog
import segment.analytics as analytics

args = json.loads(sys.argv[1])
errors = []

analytics.write_key = args['writeKey']
analytics.host = args['host']
analytics.sync_mode = True
analytics.on_error = lambda error, batch: errors.append('segment: ' + repr(error))
analytics.track(user_id=args['segmentUser'], event='Order Completed', properties=args['properties'])
analytics.identify(user_id=args['segmentUser'], traits=args['properties'])
analytics.flush()

client = posthog.Posthog(args['writeKey'], host=args['host'], sync_mode=True, on_error=lambda error, batch: errors.append('posthog: ' + repr(error)))
client.capture('Order Completed', distinct_id=args['posthogUser'], properties=args['properties'])
client.shutdown()

print(json.dumps({'errors': errors}))
