// Package promtext reads a server's Prometheus /metrics page for the load tools: each metric's
// samples summed over their labels, which is what a before/after difference over a run needs.
package promtext

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Get fetches url (a /metrics page) with c and returns Sum of its body.
func Get(c *http.Client, url string) (map[string]float64, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return Sum(resp.Body)
}

// Sum parses the text exposition format from r: metric name → the sum of its samples over all
// label sets. Comments and lines it cannot read are skipped.
func Sum(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
			_, value, _ = strings.Cut(line[strings.LastIndexByte(line, '}')+1:], " ")
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			out[name] += v
		}
	}
	return out, sc.Err()
}
