package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/storyfeed/storyfeed/storage"
)

// startInProcess runs `storyfeed run` in this process until the test ends
// and returns its base URL once /readyz answers.
func startInProcess(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"run"}, args...), &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("run exited %d: %s", code, stderr.String())
			}
		case <-time.After(15 * time.Second):
			t.Errorf("run did not stop within 15s")
		}
	})
	for range 3000 {
		if m := serveURL.FindStringSubmatch(stdout.String()); m != nil {
			waitReady(t, m[1])
			return m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("run exited %d: %s", code, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("run printed no URL: %s", stderr.String())
	return ""
}

// While the daemon holds the database, `stories` asks it and prints the
// same as it prints from the file; `backup` takes a hot copy; `compact`
// refuses; after the daemon stops, they all work on the file.
func TestReadCommandsWhileDaemonRuns(t *testing.T) {
	dir := t.TempDir()
	articleDir(t, dir, "a", "Volcano erupts near the coast", "Parliament passes the budget")
	conf := filepath.Join(dir, "storyfeed.toml")
	addr := freeAddr(t) // the read commands find the daemon at the config's address
	writeFile(t, conf, strings.Replace(daemonConfig, "127.0.0.1:0", addr, 1))
	t.Chdir(dir)
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"run", "--config", conf}, &stdout, &stderr) }()
	stop := func() {
		cancel()
		if code := <-done; code != 0 {
			t.Fatalf("run exited %d: %s", code, stderr.String())
		}
	}
	for i := 0; serveURL.FindStringSubmatch(stdout.String()) == nil; i++ {
		if i > 3000 {
			stop()
			t.Fatalf("no URL: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitReady(t, "http://"+addr)

	code, viaDaemon, errOut := runCmd(t, "stories", "--json", "--config", conf)
	if code != 0 || len(storyTitles(t, viaDaemon)) != 2 {
		t.Errorf("stories while the daemon runs: exit %d, %q, stderr %q; want 2 stories", code, viaDaemon, errOut)
	}
	// With --listen pointing nowhere, the error says what to do.
	code, _, errOut = runCmd(t, "stories", "--config", conf, "--listen", freeAddr(t))
	if code != 1 || !strings.Contains(errOut, "in use by another process") || !strings.Contains(errOut, "no storyfeed daemon answers at") {
		t.Errorf("stories with the daemon elsewhere: exit %d, %q", code, errOut)
	}
	// --explain goes through the daemon too.
	id := strings.SplitN(strings.TrimPrefix(viaDaemon, `{"id":"`), `"`, 2)[0]
	if code, out, errOut := runCmd(t, "stories", "--config", conf, "--explain", id); code != 0 || !strings.Contains(out, "story "+id) {
		t.Errorf("stories --explain %s via the daemon: exit %d, %q %q", id, code, out, errOut)
	}

	backup := filepath.Join(dir, "backup.db")
	if code, out, errOut := runCmd(t, "backup", "--config", conf, backup); code != 0 || !strings.Contains(out, "2 items") {
		t.Errorf("hot backup: exit %d, %q %q", code, out, errOut)
	}
	before, err := os.ReadFile(filepath.Join(dir, "storyfeed.db"))
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCmd(t, "compact", "--config", conf); code != 1 || !strings.Contains(errOut, "stop the daemon first") {
		t.Errorf("compact while the daemon runs: exit %d, %q; want 1 and a hint", code, errOut)
	}
	stop()
	after, err := os.ReadFile(filepath.Join(dir, "storyfeed.db"))
	if err != nil {
		t.Fatal(err)
	}
	if len(after) < len(before) {
		t.Errorf("the refused compact shrank the database from %d to %d bytes", len(before), len(after))
	}

	code, fromFile, errOut := runCmd(t, "stories", "--json", "--config", conf)
	if code != 0 || fromFile != viaDaemon {
		t.Errorf("stories from the file (exit %d, %q):\n%s\nwant what the daemon printed:\n%s", code, errOut, fromFile, viaDaemon)
	}
	// The backup is a database with the same stories.
	code, fromBackup, errOut := runCmd(t, "stories", "--json", "--config", conf, "--db", backup)
	if code != 0 || fromBackup != viaDaemon {
		t.Errorf("stories of the backup (exit %d, %q):\n%s\nwant:\n%s", code, errOut, fromBackup, viaDaemon)
	}
	// Cold backup and compact.
	backup2 := filepath.Join(dir, "backup2.db")
	if code, _, errOut := runCmd(t, "backup", "--config", conf, backup2); code != 0 {
		t.Errorf("cold backup: exit %d, %q", code, errOut)
	}
	if code, out, errOut := runCmd(t, "compact", "--config", conf); code != 0 || !strings.Contains(out, "bytes ->") {
		t.Errorf("compact: exit %d, %q %q", code, out, errOut)
	}
	if code, out, _ := runCmd(t, "stories", "--json", "--config", conf); code != 0 || out != viaDaemon {
		t.Errorf("stories after compact: exit %d:\n%s\nwant:\n%s", code, out, viaDaemon)
	}
	if code, _, errOut := runCmd(t, "backup", "--config", conf, filepath.Join(dir, "storyfeed.db")); code != 1 || !strings.Contains(errOut, "is the database itself") {
		t.Errorf("backup onto the database: exit %d, %q", code, errOut)
	}
}

// The daemon's command endpoint runs only read commands, for the database
// it holds, for clients on this machine.
func TestAPICommandRefuses(t *testing.T) {
	dir := t.TempDir()
	articleDir(t, dir, "a", "Volcano erupts near the coast")
	conf := filepath.Join(dir, "storyfeed.toml")
	writeFile(t, conf, daemonConfig)
	base := startInProcess(t, "--config", conf)
	db := filepath.Join(dir, "storyfeed.db")
	key, err := readAPIKey(db)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		body string
		want int
	}{
		{`{"args":["stories"],"db":"` + db + `"}`, 200},
		{`{"args":["poll"],"db":"` + db + `"}`, 400},
		{`{"args":["run"],"db":"` + db + `"}`, 400},
		{`{"args":[],"db":"` + db + `"}`, 400},
		{`{"args":["stories","--config","/etc/passwd"],"db":"` + db + `"}`, 400},
		{`{"args":["stories","--db=/tmp/x.db"],"db":"` + db + `"}`, 400},
		{`{"args":["stories"],"db":"/elsewhere/other.db"}`, 409},
		{`not json`, 400},
	} {
		resp, err := httpPost(base+"/api/command", key, c.body)
		if err != nil {
			t.Fatal(err)
		}
		if resp != c.want {
			t.Errorf("POST /api/command %s = %d, want %d", c.body, resp, c.want)
		}
	}
	req, err := http.NewRequest("GET", base+"/api/backup?db=/elsewhere/other.db", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(apiKeyHeader, key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 409 {
		t.Errorf("GET /api/backup of another database = %d, want 409", resp.StatusCode)
	}
}

func httpPost(url, key, body string) (int, error) {
	req, err := http.NewRequest("POST", url, bytes.NewReader([]byte(body)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(apiKeyHeader, key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestStripFlags(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"--json --limit 5", "--json --limit 5"},
		{"--config a.toml --json", "--json"},
		{"-config=a.toml --db b.db --listen=x:1 --explain 00", "--explain 00"},
		{"--json -- --config", "--json -- --config"},
	} {
		got := strings.Join(stripFlags(strings.Fields(c.in), daemonFlags), " ")
		if got != c.want {
			t.Errorf("stripFlags(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// A database that cannot be used ends the command with an error that names
// the file and the cause, and the file is left as it was.
func TestHostileDatabaseFiles(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	articleDir(t, dir, "seeds", "Volcano erupts near the coast")
	good := filepath.Join(dir, "good.db")
	if code, _, errOut := runCmd(t, "poll", "--db", good); code != 0 {
		t.Fatalf("poll: %d %s", code, errOut)
	}

	notBolt := filepath.Join(dir, "notes.db")
	writeFile(t, notBolt, strings.Repeat("these are my notes, not a database\n", 200))
	empty := filepath.Join(dir, "empty.db")
	writeFile(t, empty, "")
	foreign := filepath.Join(dir, "foreign.db")
	writeForeignBolt(t, foreign)

	for _, c := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"not bbolt, poll", []string{"poll", "--db", notBolt}, notBolt + ": not a storyfeed database"},
		{"not bbolt, run", []string{"run", "--db", notBolt, "--listen", "127.0.0.1:0"}, notBolt + ": not a storyfeed database"},
		{"not bbolt, stories", []string{"stories", "--db", notBolt}, notBolt + ": not a storyfeed database"},
		{"not bbolt, compact", []string{"compact", "--db", notBolt}, notBolt + ": not a storyfeed database"},
		{"empty file, stories", []string{"stories", "--db", empty}, empty},
		{"other bbolt, poll", []string{"poll", "--db", foreign}, "bbolt file without storyfeed schema"},
	} {
		t.Run(c.name, func(t *testing.T) {
			snapshot := map[string][]byte{}
			for _, p := range []string{notBolt, empty, foreign} {
				snapshot[p] = readFile(t, p)
			}
			start := time.Now()
			code, _, errOut := runCmd(t, c.args...)
			if code != 1 || !strings.Contains(errOut, c.want) {
				t.Errorf("%v: exit %d, stderr %q; want 1 and %q", c.args, code, errOut, c.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("%v took %v to fail", c.args, d)
			}
			for p, b := range snapshot {
				if !bytes.Equal(readFile(t, p), b) {
					t.Errorf("%v changed %s", c.args, p)
				}
			}
		})
	}
	// The good database still works after all that.
	if code, out, _ := runCmd(t, "stories", "--json", "--db", good); code != 0 || len(storyTitles(t, out)) != 1 {
		t.Errorf("stories of the good database: %d %q", code, out)
	}
}

// A database that another process holds: writers fail fast and say so;
// the file is untouched.
func TestLockedDatabase(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	articleDir(t, dir, "seeds", "Volcano erupts near the coast")
	path := filepath.Join(dir, "held.db")
	if code, _, errOut := runCmd(t, "poll", "--db", path); code != 0 {
		t.Fatalf("poll: %d %s", code, errOut)
	}
	// A child process holds the file: `run` on a port nobody asks.
	d := startChild(t, dir, "run", "--db", path, "--listen", "127.0.0.1:0")
	d.base()
	before := readFile(t, path)
	for _, args := range [][]string{
		{"poll", "--db", path},
		{"run", "--db", path, "--listen", "127.0.0.1:0"},
		{"compact", "--db", path},
	} {
		start := time.Now()
		code, _, errOut := runCmd(t, args...)
		if code != 1 || !strings.Contains(errOut, "in use by another storyfeed process") {
			t.Errorf("%v on a held database: exit %d, %q", args, code, errOut)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%v took %v to fail", args, took)
		}
	}
	if code, took := d.signal(os.Interrupt); code != 0 {
		t.Errorf("daemon exit %d after %v: %s", code, took, d.stderr.String())
	}
	if after := readFile(t, path); len(after) < len(before) {
		t.Errorf("the held database shrank from %d to %d bytes", len(before), len(after))
	}
	db, err := storage.Open(path, storage.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Error(err)
	}
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	writeFile(t, to, string(readFile(t, from)))
}

// writeForeignBolt writes a bbolt file that some other program made.
func writeForeignBolt(t testing.TB, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("widgets"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// A read-only database file: the read commands work, the writers fail with
// an error naming the file, and the file is unchanged. Root ignores file
// modes, so as root the commands run as nobody in a child process.
func TestReadOnlyDatabase(t *testing.T) {
	dir := t.TempDir()
	// nobody must reach the directory (and its parent, the test's).
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	articleDir(t, dir, "seeds", "Volcano erupts near the coast")
	path := filepath.Join(dir, "ro.db")
	if code, _, errOut := runCmd(t, "poll", "--db", path); code != 0 {
		t.Fatalf("poll: %d %s", code, errOut)
	}
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
	roDir := filepath.Join(dir, "rodir")
	if err := os.Mkdir(roDir, 0o555); err != nil {
		t.Fatal(err)
	}
	run := runCmd
	if os.Geteuid() == 0 {
		run = runAsNobody(dir)
	}
	before := readFile(t, path)
	for _, c := range []struct {
		args []string
		code int
		want string // in stderr, or with code 0 in stdout
	}{
		{[]string{"stories", "--db", path}, 0, "Volcano erupts near the coast"},
		{[]string{"poll", "--db", path}, 1, path + ": permission denied"},
		{[]string{"run", "--db", path, "--listen", "127.0.0.1:0"}, 1, path + ": permission denied"},
		{[]string{"compact", "--db", path}, 1, "permission denied"},
		{[]string{"poll", "--db", filepath.Join(roDir, "new.db")}, 1, filepath.Join(roDir, "new.db") + ": permission denied"},
		{[]string{"backup", "--db", path, filepath.Join(roDir, "b.db")}, 1, "permission denied"},
	} {
		code, out, errOut := run(t, c.args...)
		got := errOut
		if c.code == 0 {
			got = out
		}
		if code != c.code || !strings.Contains(got, c.want) {
			t.Errorf("%v on a read-only database: exit %d, stdout %q, stderr %q; want %d and %q", c.args, code, out, errOut, c.code, c.want)
		}
	}
	if !bytes.Equal(readFile(t, path), before) {
		t.Error("the read-only database changed")
	}
}

// runAsNobody returns a runCmd that runs the command in a child process as
// the user nobody, in dir.
func runAsNobody(dir string) func(t *testing.T, args ...string) (int, string, string) {
	return func(t *testing.T, args ...string) (int, string, string) {
		t.Helper()
		bin := filepath.Join(dir, "storyfeed.test")
		if _, err := os.Stat(bin); err != nil {
			copyFile(t, os.Args[0], bin)
			if err := os.Chmod(bin, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "STORYFEED_TEST_MAIN=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("run %v as nobody: %v", args, err)
		}
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}
}

// A config with unknown keys, a bad cron spec and duplicate names is
// refused by every command that reads it, with every problem at its
// FILE:LINE, before anything is opened: no database appears, and an
// existing one is untouched.
func TestHostileConfig(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	articleDir(t, dir, "a", "Volcano erupts near the coast")
	conf := filepath.Join(dir, "bad.toml")
	writeFile(t, conf, `[storage]
path = "bad.db"
retention = "30d"
[poll]
schedule = "61 * * * *"
[[source]]
name = "a"
path = "a"
colour = "red"
[[source]]
name = "a"
url = "https://example.com/feed.xml"
schedule = "every day at noon"
`)
	want := []string{
		conf + ":3: storage.retention: unknown key",
		conf + ":5: poll.schedule: bad cron spec",
		conf + ":9: source[0].colour: unknown key",
		conf + ":11: source[1].name: duplicate source name \"a\"",
		conf + ":13: source[1].schedule: bad cron spec",
	}
	for _, args := range [][]string{
		{"check", "--config", conf},
		{"poll", "--config", conf},
		{"run", "--config", conf, "--listen", "127.0.0.1:0"},
		{"stories", "--config", conf},
		{"backup", "--config", conf, filepath.Join(dir, "b.db")},
		{"compact", "--config", conf},
	} {
		code, out, errOut := runCmd(t, args...)
		if code != 1 {
			t.Errorf("%v: exit %d, want 1", args, code)
		}
		for _, w := range want {
			if !strings.Contains(out+errOut, w) {
				t.Errorf("%v does not report %q:\n%s%s", args, w, out, errOut)
			}
		}
	}
	for _, p := range []string{"bad.db", "b.db"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("a command with a bad config created %s", p)
		}
	}
}

// freeAddr returns a loopback address with a port nothing listens on at
// the moment, for a config that must name its port before the daemon
// starts (a fixed port fails when another process holds it).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
