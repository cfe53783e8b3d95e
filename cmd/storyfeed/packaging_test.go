package main

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/storyfeed/storyfeed/aggregator/config"
)

// The systemd unit keeps its hardening and starts the daemon with flags
// that exist; the config it ships with is valid.
func TestSystemdUnit(t *testing.T) {
	f, err := os.Open("../../packaging/storyfeed.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("unit line %q is not key=value", line)
			continue
		}
		keys[k] = append(keys[k], v)
	}
	for k, want := range map[string]string{
		"Type": "notify", "NotifyAccess": "main", "DynamicUser": "yes", "StateDirectory": "storyfeed",
		"ProtectSystem": "strict", "NoNewPrivileges": "yes", "ProtectHome": "yes", "PrivateTmp": "yes",
		"CapabilityBoundingSet": "", "ExecReload": "/bin/kill -HUP $MAINPID", "KillSignal": "SIGTERM",
	} {
		if got := keys[k]; len(got) != 1 || got[0] != want {
			t.Errorf("unit %s = %q, want %q", k, got, want)
		}
	}
	if len(keys["WatchdogSec"]) != 1 {
		t.Error("unit has no WatchdogSec")
	}
	exec := strings.Fields(strings.Join(keys["ExecStart"], ""))
	if len(exec) < 2 || exec[0] != "/usr/local/bin/storyfeed" || exec[1] != "run" {
		t.Fatalf("ExecStart = %q, want /usr/local/bin/storyfeed run ...", exec)
	}
	var c common
	fs := newFlags(&env{stdout: os.Stdout, stderr: os.Stderr}, "run", "", "")
	c.register(fs, true)
	if err := fs.Parse(exec[2:]); err != nil || fs.NArg() != 0 {
		t.Errorf("ExecStart arguments %q: %v, %v", exec[2:], err, fs.Args())
	}
	if !strings.HasPrefix(c.db, "/var/lib/storyfeed/") || !strings.HasPrefix(c.config, "/etc/storyfeed/") {
		t.Errorf("ExecStart keeps the database at %q and the config at %q; want them in the state and configuration directories", c.db, c.config)
	}

	data, err := os.ReadFile("../../packaging/storyfeed.toml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse("packaging/storyfeed.toml", data); err != nil {
		t.Errorf("packaging/storyfeed.toml:\n%v", err)
	}
}
