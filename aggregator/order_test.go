package aggregator_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/aggregator"
	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

// orderStore records the order in which sources' items are committed.
type orderStore struct {
	*storage.DB
	mu    sync.Mutex
	order []string
}

func (s *orderStore) Commit(ctx context.Context, b storage.Batch) error {
	if b.Source != nil && len(b.Items) > 0 {
		s.mu.Lock()
		s.order = append(s.order, b.Source.Name)
		s.mu.Unlock()
	}
	return s.DB.Commit(ctx, b)
}

// The writer decides sources in the order of the config, whatever order
// their fetches finish in: dedupe decisions depend on what is already in
// the index, so this is what makes two runs on the same feeds give the
// same stories. Here the first feeds answer last.
func TestSourcesDecidedInConfigOrder(t *testing.T) {
	const n = 12
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/f/"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		time.Sleep(time.Duration(n-i) * 15 * time.Millisecond)
		fmt.Fprintf(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>F%d</title>
<item><title>Report %d on the harbour works</title><guid>g%d</guid><link>https://example.org/%d</link>
<description>Text of report %d.</description></item></channel></rss>`, i, i, i, i, i)
	}))
	defer srv.Close()
	st := &orderStore{DB: storagetest.OpenTemp(t)}
	cfg := config.Default()
	cfg.Poll.AllowPrivateNetworks = true // the test server is on loopback
	cfg.Poll.Workers = 4
	var want []string
	for i := range n {
		name := fmt.Sprintf("feed-%02d", i)
		cfg.Sources = append(cfg.Sources, config.Source{Name: name, URL: fmt.Sprintf("%s/f/%d", srv.URL, i)})
		want = append(want, name)
	}
	svc, err := aggregator.New(cfg, aggregator.Deps{Store: st, Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.ItemsNew != n {
		t.Fatalf("cycle %+v, want %d new items", c, n)
	}
	if !slices.Equal(st.order, want) {
		t.Errorf("committed in order %v, want the config's %v", st.order, want)
	}
}
