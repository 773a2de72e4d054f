# Segment's, RudderStack's, PostHog's, Mixpanel's, Amplitude's and Snowplow's Python SDKs, unchanged, pointed at
# trackhouse's ingest, for test/integration/ingest-python-sdks.test.ts. Python reads the
# argument's integers exactly and the SDKs write them with json.dumps (", " and ": " between
# members, but Mixpanel's compact; Snowplow's inside base64 parameters), so the bodies carry
# 64-bit ids as JSON numbers, as a Python service's calls do. Prints {"errors": [...]}.
import json
import sys

import amplitude
import mixpanel
import posthog
import rudderstack.analytics
import segment.analytics as analytics
import snowplow_tracker

args = json.loads(sys.argv[1])
errors = []

analytics.write_key = args['writeKey']
analytics.host = args['host']
analytics.sync_mode = True
analytics.on_error = lambda error, batch: errors.append('segment: ' + repr(error))
analytics.track(user_id=args['segmentUser'], event='Order Completed', properties=args['properties'])
analytics.identify(user_id=args['segmentUser'], traits=args['properties'])
analytics.flush()

# RudderStack's: Segment's API, the same User-Agent as Segment's library, each call marked channel=server.
if 'rudderUser' in args:
    rudder = rudderstack.analytics.Client(args['writeKey'], host=args['host'], sync_mode=True, on_error=lambda error, batch: errors.append('rudderstack: ' + repr(error)))
    rudder.track(user_id=args['rudderUser'], event='Order Completed', properties={'n': 1})
    rudder.identify(user_id=args['rudderUser'], traits={'plan': 'pro'})
    rudder.flush()

client = posthog.Posthog(args['writeKey'], host=args['host'], sync_mode=True, on_error=lambda error, batch: errors.append('posthog: ' + repr(error)))
client.capture('Order Completed', distinct_id=args['posthogUser'], properties=args['properties'])
# A person update: $set beside the event, as the server SDKs send it.
client.set(distinct_id=args['posthogUser'], properties=args['properties'])
client.shutdown()

# Mixpanel: an event and a people update (/track, /engage), the user's id a 64-bit number.
host = args['host']
mp = mixpanel.Mixpanel(args['writeKey'], consumer=mixpanel.Consumer(events_url=host + '/track', people_url=host + '/engage'))
try:
    mp.track(args['mixpanelUser'], 'Order Completed', args['properties'])
    mp.people_set(args['mixpanelUser'], args['properties'])
except mixpanel.MixpanelException as e:
    errors.append('mixpanel: ' + repr(e))

# Amplitude: an event and an identify ($set), through the HTTP V2 API; its worker sends them on
# flush. Its SDK takes a user_id only as a string (it drops a number), so the id goes as its digits.
def amplitude_callback(event, code, message=None):
    if code != 200:
        errors.append('amplitude: %s %s %s' % (event.event_type, code, message))

client = amplitude.Amplitude(args['writeKey'], amplitude.Config(server_url=host + '/2/httpapi', callback=amplitude_callback))
client.track(amplitude.BaseEvent(event_type='Order Completed', user_id=str(args['amplitudeUser']), event_properties=args['properties']))
identify = amplitude.Identify()
for k, v in args['properties'].items():
    identify.set(k, v)
client.identify(identify, amplitude.EventOptions(user_id=str(args['amplitudeUser'])))
client.flush()
client.shutdown()

# Snowplow: a self-describing event with a context (both base64 in ue_px / cx), POSTed to tp2.
emitter = snowplow_tracker.Emitter(host, method='post', batch_size=1, on_failure=lambda sent, failed: errors.append('snowplow: %s not sent' % len(failed)))
tracker = snowplow_tracker.Tracker('th', emitter, app_id=args['writeKey'], subject=snowplow_tracker.Subject().set_user_id(args['snowplowUser']))
tracker.track(snowplow_tracker.SelfDescribing(
    snowplow_tracker.SelfDescribingJson('iglu:com.acme/order_completed/jsonschema/1-0-0', args['properties']),
    context=[snowplow_tracker.SelfDescribingJson('iglu:com.acme/order/jsonschema/1-0-0', {'order_id': args['properties']['order_id']})],
))
emitter.flush()

print(json.dumps({'errors': errors}))
