# Mixpanel's Python SDK (mixpanel on PyPI, unchanged) pointed at trackhouse's /groups, for
# test/integration/formats-mixpanel-groups.test.ts: each group profile call once, for the group
# id given (a 64-bit number: Python reads it exactly, json.dumps writes it so), group_set at `time`. The SDK posts
# `data=<JSON>&verbose=1&ip=0` and raises MixpanelException unless the answer's status is 1.
# Prints {"errors": [...]}.
import json
import sys

import mixpanel

args = json.loads(sys.argv[1])
errors = []
mp = mixpanel.Mixpanel(args['writeKey'], consumer=mixpanel.Consumer(groups_url=args['host'] + '/groups'))
key, gid = args['groupKey'], args['groupId']
calls = [
    # meta: the SDK's way to set $time (else its clock, in milliseconds).
    ('group_set', lambda: mp.group_set(key, gid, {'name': 'Acme', 'employees': args['employees']}, meta={'$time': args['time']})),
    ('group_set_once', lambda: mp.group_set_once(key, gid, {'founded': 1999})),
    ('group_union', lambda: mp.group_union(key, gid, {'tags': ['b2b', 'eu']})),
    ('group_remove', lambda: mp.group_remove(key, gid, {'tags': 'eu'})),
    ('group_unset', lambda: mp.group_unset(key, gid, ['legacy'])),
    ('group_delete', lambda: mp.group_delete(key, gid)),
]
for name, call in calls:
    try:
        call()
    except mixpanel.MixpanelException as e:
        errors.append('%s: %r' % (name, e))
print(json.dumps({'errors': errors}))
