// Segment's and PostHog's Go SDKs, unchanged, pointed at trackhouse's ingest, for
// test/integration/ingest-jvm-go-sdks.test.ts.
//
//	go run . <ingest URL> <write key> <run id>
//
// Sends every call each SDK has, for users named after the run id (go-segment-<run>,
// go-posthog-<run>), then closes both clients (which flushes them) and prints one JSON line per
// thing the SDKs reported: each message's callback (success, or failure with the error) and each
// call the SDK refused. Exits 0 either way: the test judges what was reported.
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posthog/posthog-go"
	analytics "github.com/segmentio/analytics-go/v3"
)

var mu sync.Mutex

// report prints one JSON line; the SDKs call back from their own goroutines.
func report(line map[string]interface{}) {
	mu.Lock()
	defer mu.Unlock()
	b, err := json.Marshal(line)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"probe_error":%q}`, err.Error()))
	}
	os.Stdout.Write(append(b, '\n'))
}

type segmentCallback struct{}

func (segmentCallback) Success(m analytics.Message) {
	report(map[string]interface{}{"sdk": "analytics-go", "callback": "success", "message": fmt.Sprintf("%T", m)})
}

func (segmentCallback) Failure(m analytics.Message, err error) {
	report(map[string]interface{}{"sdk": "analytics-go", "callback": "failure", "message": fmt.Sprintf("%T", m), "error": err.Error()})
}

type posthogCallback struct{}

func (posthogCallback) Success(m posthog.APIMessage) {
	report(map[string]interface{}{"sdk": "posthog-go", "callback": "success", "message": fmt.Sprintf("%T", m)})
}

func (posthogCallback) Failure(m posthog.APIMessage, err error) {
	report(map[string]interface{}{"sdk": "posthog-go", "callback": "failure", "message": fmt.Sprintf("%T", m), "error": err.Error()})
}

// retryCallback reports posthog-go's outcomes for the client whose batch is refused and resent,
// under its own name (the test counts the main clients' callbacks exactly).
type retryCallback struct{}

func (retryCallback) Success(m posthog.APIMessage) {
	report(map[string]interface{}{"sdk": "posthog-go-retry", "callback": "success", "message": fmt.Sprintf("%T", m)})
}

func (retryCallback) Failure(m posthog.APIMessage, err error) {
	report(map[string]interface{}{"sdk": "posthog-go-retry", "callback": "failure", "message": fmt.Sprintf("%T", m), "error": err.Error()})
}

// countingTransport counts the requests posthog-go makes (its first try and each resend).
type countingTransport struct{ n int32 }

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	atomic.AddInt32(&t.n, 1)
	return http.DefaultTransport.RoundTrip(req)
}

func enqueued(sdk string, err error) {
	if err != nil {
		report(map[string]interface{}{"sdk": sdk, "enqueue_error": err.Error()})
	}
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: sdk-go <ingest URL> <write key> <run id>")
		os.Exit(2)
	}
	url, key, run := os.Args[1], os.Args[2], os.Args[3]
	segmentUser, posthogUser, group := "go-segment-"+run, "go-posthog-"+run, "go-group-"+run
	// The values a Go service sends: the extremes of its 64-bit integers and text beyond ASCII.
	props := func() map[string]interface{} {
		return map[string]interface{}{
			"int64_max":  int64(math.MaxInt64),
			"int64_min":  int64(math.MinInt64),
			"uint64_max": uint64(math.MaxUint64),
			"city":       "Zürich — 東京 🚀",
			"price":      1.5,
		}
	}

	segment, err := analytics.NewWithConfig(key, analytics.Config{Endpoint: url, Callback: segmentCallback{}})
	if err != nil {
		panic(err)
	}
	const sdk = "analytics-go"
	enqueued(sdk, segment.Enqueue(analytics.Track{UserId: segmentUser, Event: "Order Completed", Properties: props()}))
	enqueued(sdk, segment.Enqueue(analytics.Identify{UserId: segmentUser, Traits: analytics.NewTraits().SetName("Zoë Go").SetEmail("zoe@example.com").Set("plan", "pro").Set("uint64_max", uint64(math.MaxUint64))}))
	enqueued(sdk, segment.Enqueue(analytics.Page{UserId: segmentUser, Name: "Pricing", Properties: analytics.NewProperties().SetURL("https://example.com/pricing")}))
	enqueued(sdk, segment.Enqueue(analytics.Screen{UserId: segmentUser, Name: "Home", Properties: analytics.NewProperties().Set("variant", "a")}))
	enqueued(sdk, segment.Enqueue(analytics.Group{UserId: segmentUser, GroupId: group, Traits: analytics.NewTraits().SetName("Acme").Set("employees", 40)}))
	enqueued(sdk, segment.Enqueue(analytics.Alias{UserId: segmentUser, PreviousId: "go-anon-" + run}))

	ph, err := posthog.NewWithConfig(key, posthog.Config{Endpoint: url, Callback: posthogCallback{}})
	if err != nil {
		panic(err)
	}
	const phSdk = "posthog-go"
	enqueued(phSdk, ph.Enqueue(posthog.Capture{DistinctId: posthogUser, Event: "Order Completed", Properties: props(), Groups: posthog.NewGroups().Set("company", group)}))
	enqueued(phSdk, ph.Enqueue(posthog.Identify{DistinctId: posthogUser, Properties: posthog.NewProperties().Set("name", "Zoë Go").Set("plan", "pro").Set("account_id", int64(math.MaxInt64))}))
	// As PostHog's docs write it: the user's distinct id, and another id of theirs to merge in.
	enqueued(phSdk, ph.Enqueue(posthog.Alias{DistinctId: posthogUser, Alias: posthogUser + "-alias"}))
	enqueued(phSdk, ph.Enqueue(posthog.GroupIdentify{Type: "company", Key: group, Properties: posthog.NewProperties().Set("name", "Acme")}))

	// posthog-go 1.5.2 resends a batch whole on any answer but 2xx (a 400 too), and gives its
	// events no uuid: one event the ingest refuses (a time past 2299) makes it resend the other.
	transport := &countingTransport{}
	retry, err := posthog.NewWithConfig(key, posthog.Config{Endpoint: url, Callback: retryCallback{}, Transport: transport,
		Interval: 50 * time.Millisecond, BatchSize: 2, RetryAfter: func(int) time.Duration { return 150 * time.Millisecond }})
	if err != nil {
		panic(err)
	}
	enqueued("posthog-go-retry", retry.Enqueue(posthog.Capture{DistinctId: posthogUser + "-retry", Event: "Resent", Properties: posthog.NewProperties().Set("n", 1)}))
	enqueued("posthog-go-retry", retry.Enqueue(posthog.Capture{DistinctId: posthogUser + "-retry", Event: "Too Late", Timestamp: time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC)}))
	time.Sleep(800 * time.Millisecond)
	retry.Close()
	report(map[string]interface{}{"sdk": "posthog-go-retry", "requests": atomic.LoadInt32(&transport.n)})

	// Close sends what is queued and waits for the answers (a failed send is not retried once
	// the client is closing: it is reported to the callback at once).
	report(map[string]interface{}{"sdk": sdk, "closed": true, "error": errText(segment.Close())})
	report(map[string]interface{}{"sdk": phSdk, "closed": true, "error": errText(ph.Close())})
}

func errText(err error) interface{} {
	if err == nil {
		return nil
	}
	return err.Error()
}
