package main

// The key of the daemon's /api/ endpoints. /api/command and /api/backup
// give out what the database holds (every source URL, with any credentials
// in it, and the whole file). Answering only loopback clients is not
// enough: a reverse proxy on the same machine, the usual way to publish the
// feed, makes every request from the internet come from loopback. So the
// daemon also writes a random key beside its database, readable only by the
// user it runs as (and root), and a client must send it: whoever may read
// the database directory may ask the daemon for its content, nobody else.

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// apiKeyHeader carries the key in a request to /api/.
const apiKeyHeader = "Storyfeed-Key"

// apiKeyPath is the file that holds the key of the daemon that holds db.
func apiKeyPath(db string) string { return db + ".api-key" }

// writeAPIKey makes a new key and writes it, mode 0600, to the key file of
// db, replacing the file a daemon killed before it could remove it left.
func writeAPIKey(db string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	key := hex.EncodeToString(b[:])
	path := apiKeyPath(db)
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("write the API key: %w", err)
	}
	_, err = tmp.WriteString(key + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path) // CreateTemp made it 0600
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("write the API key %s: %w", path, err)
	}
	return key, nil
}

// removeAPIKey removes the key file of db if it still holds key (a second
// daemon may have replaced it; it is not this one's to remove then).
func removeAPIKey(db, key string) {
	path := apiKeyPath(db)
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == key {
		os.Remove(path)
	}
}

// readAPIKey reads the key of the daemon that holds db.
func readAPIKey(db string) (string, error) {
	b, err := os.ReadFile(apiKeyPath(db))
	if err != nil {
		return "", fmt.Errorf("read the daemon's key: %w (run as the daemon's user, or as root)", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// apiAllowed answers 403 and reports false unless r comes from loopback and
// carries the daemon's key.
func (d *daemon) apiAllowed(w http.ResponseWriter, r *http.Request) bool {
	if !fromLoopback(r) {
		http.Error(w, "forbidden: only for clients on this machine", http.StatusForbidden)
		return false
	}
	got := r.Header.Get(apiKeyHeader)
	if d.apiKey == "" || subtle.ConstantTimeCompare([]byte(got), []byte(d.apiKey)) != 1 {
		http.Error(w, fmt.Sprintf("forbidden: send the key in %s as the %s header", apiKeyPath(d.dbPath), apiKeyHeader), http.StatusForbidden)
		return false
	}
	return true
}

// tokenAllowed answers 401 and reports false when [server] token is set and
// r does not carry it, as ?token= or Authorization: Bearer, like the
// publisher's URLs.
func (d *daemon) tokenAllowed(w http.ResponseWriter, r *http.Request) bool {
	d.mu.Lock()
	token := d.cfg.Server.Token
	d.mu.Unlock()
	if token == "" {
		return true
	}
	if auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok &&
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(auth)), []byte(token)) == 1 {
		return true
	}
	if subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("token")), []byte(token)) == 1 {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="storyfeed"`)
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, "a token is required: add ?token=TOKEN to the URL or send Authorization: Bearer TOKEN", http.StatusUnauthorized)
	return false
}
