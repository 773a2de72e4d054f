// Fetches /metrics from each URL given and checks it with Prometheus' own code, for
// test/integration/metrics-prometheus.test.ts:
//
//   - text: a plain GET, parsed with expfmt's text parser (what client_golang and the Pushgateway
//     read) and linted with promlint (naming, units, _total, help);
//   - openmetrics: a GET asking for OpenMetrics first, as Prometheus' scraper does, parsed by the
//     parser Prometheus picks for the Content-Type that came back (model/textparse.New), to the end.
//
// Prints one JSON object per URL on stdout; exits 0 whenever the fetches themselves answered.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

// The Accept header of Prometheus' scraper (scrape.ScrapeProtocolsHeader for its default
// protocols without protobuf): OpenMetrics first, the text format as fallback.
const openMetricsAccept = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"

type problem struct {
	Metric string `json:"metric"`
	Text   string `json:"text"`
}

type report struct {
	URL string `json:"url"`
	// The plain GET: its Content-Type, expfmt's verdict and the families it read, promlint's problems.
	TextContentType string    `json:"text_content_type"`
	TextError       string    `json:"text_error"`
	Families        []string  `json:"families"`
	Lint            []problem `json:"lint"`
	// The OpenMetrics-first GET: its Content-Type, textparse's verdict and the series it read.
	OpenMetricsContentType string `json:"openmetrics_content_type"`
	OpenMetricsError       string `json:"openmetrics_error"`
	OpenMetricsSeries      int    `json:"openmetrics_series"`
}

func fetch(url, accept string) ([]byte, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, "", err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, "", err
	}
	if res.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("%s answered %d: %s", url, res.StatusCode, body)
	}
	return body, res.Header.Get("Content-Type"), nil
}

func check(url string) (report, error) {
	r := report{URL: url, Families: []string{}, Lint: []problem{}}

	body, contentType, err := fetch(url, "")
	if err != nil {
		return r, err
	}
	r.TextContentType = contentType
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		r.TextError = err.Error()
	} else {
		for name := range families {
			r.Families = append(r.Families, name)
		}
		sort.Strings(r.Families)
	}
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		r.TextError = errors.Join(errors.New(r.TextError), err).Error()
	}
	for _, p := range problems {
		r.Lint = append(r.Lint, problem{Metric: p.Metric, Text: p.Text})
	}

	body, contentType, err = fetch(url, openMetricsAccept)
	if err != nil {
		return r, err
	}
	r.OpenMetricsContentType = contentType
	p, err := textparse.New(body, contentType, labels.NewSymbolTable(), textparse.ParserOptions{})
	if p == nil {
		r.OpenMetricsError = fmt.Sprintf("no parser for %q: %v", contentType, err)
		return r, nil
	}
	if err != nil {
		// A parser chosen by fallback: Prometheus scrapes, but warns.
		r.OpenMetricsError = err.Error()
	}
	for {
		entry, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			r.OpenMetricsError = err.Error()
			break
		}
		if entry == textparse.EntrySeries || entry == textparse.EntryHistogram {
			r.OpenMetricsSeries++
		}
	}
	return r, nil
}

func main() {
	out := json.NewEncoder(os.Stdout)
	for _, url := range os.Args[1:] {
		r, err := check(url)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := out.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
