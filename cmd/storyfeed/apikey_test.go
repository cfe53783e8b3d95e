package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The daemon's /api/ endpoints hand out the whole database. A reverse proxy
// on the same machine makes every request come from loopback, so loopback
// alone must not be enough: a client must also show the key that the
// daemon writes beside the database, readable only by who may read the
// database itself. With [server] token set, /metrics needs the token like
// the feeds; /healthz and /readyz, the probes, do not.
func TestAPINeedsTheDaemonKey(t *testing.T) {
	dir := t.TempDir()
	articleDir(t, dir, "a", "Volcano erupts near the coast")
	conf := filepath.Join(dir, "storyfeed.toml")
	writeFile(t, conf, strings.Replace(daemonConfig, "[poll]", "token = \"s3cret\"\n[poll]", 1))
	base := startInProcess(t, "--config", conf)
	db := filepath.Join(dir, "storyfeed.db")

	key, err := readAPIKey(db)
	if err != nil || len(key) != 64 {
		t.Fatalf("the daemon wrote no key beside its database: %q, %v", key, err)
	}
	if info, err := os.Stat(apiKeyPath(db)); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v (%v), want 0600", info.Mode(), err)
	}
	body := `{"args":["stories"],"db":"` + db + `"}`
	for _, c := range []struct {
		method, path, key string
		want              int
	}{
		{"POST", "/api/command", "", 403},
		{"POST", "/api/command", "wrong", 403},
		{"POST", "/api/command", key, 200},
		{"GET", "/api/backup?db=" + db, "", 403},
		{"GET", "/api/backup?db=" + db, key, 200},
		{"GET", "/metrics", "", 401},
		{"GET", "/metrics?token=s3cret", "", 200},
		{"GET", "/readyz", "", 200},
		{"GET", "/healthz", "", 200},
	} {
		req, err := http.NewRequest(c.method, base+c.path, bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		if c.key != "" {
			req.Header.Set(apiKeyHeader, c.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s with key %q = %d, want %d", c.method, c.path, c.key, resp.StatusCode, c.want)
		}
	}
	// The commands themselves find the key.
	if code, out, errOut := runCmd(t, "stories", "--config", conf, "--listen", strings.TrimPrefix(base, "http://")); code != 0 || !strings.Contains(out, "Volcano") {
		t.Errorf("stories through the daemon: exit %d, %q %q", code, out, errOut)
	}
}
