package aggregator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/storyfeed/storyfeed/aggregator"
	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/storage"
	bolt "go.etcd.io/bbolt"
)

// A poll of a database with a page overwritten in the middle stops with an
// error wrapping storage.ErrDamaged that names the file: not a panic, and
// not a "source failed" per source whose state could not be read.
func TestPollDamagedDatabase(t *testing.T) {
	dir := t.TempDir()
	var sources []config.Source
	for i := range 20 {
		var b strings.Builder
		fmt.Fprintf(&b, "<rss version=\"2.0\"><channel><title>F%d</title>", i)
		for j := range 30 {
			fmt.Fprintf(&b, "<item><guid>g%d</guid><title>Feed %d story %d on subject %d</title><link>https://f%d.example/%d</link><description>%s</description></item>",
				j, i, j, i*100+j, i, j, strings.Repeat(fmt.Sprintf("Words of feed %d item %d. ", i, j), 20))
		}
		b.WriteString("</channel></rss>")
		path := filepath.Join(dir, fmt.Sprintf("f%d.xml", i))
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		sources = append(sources, config.Source{Name: fmt.Sprintf("f%d", i), Path: path})
	}
	cfg := config.Default()
	cfg.Sources = sources
	dbPath := filepath.Join(dir, "s.db")
	poll := func() error {
		db, err := storage.Open(dbPath, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		svc, err := aggregator.New(cfg, aggregator.Deps{Store: db, Now: newClock().Now})
		if err != nil {
			t.Fatal(err)
		}
		_, err = svc.PollOnce(context.Background())
		return err
	}
	if err := poll(); err != nil {
		t.Fatal(err)
	}

	// Overwrite the page of the source states: every source's state read
	// then fails, which is the database's fault, not the sources'.
	bdb, err := bolt.Open(dbPath, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	var root int64
	if err := bdb.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("sources"))
		if b == nil {
			return errors.New("no sources bucket")
		}
		root = int64(b.Root())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	page := int64(bdb.Info().PageSize)
	if err := bdb.Close(); err != nil {
		t.Fatal(err)
	}
	if root == 0 {
		t.Fatal("the source states are inline in their parent page; the test needs a page of their own")
	}
	f, err := os.OpenFile(dbPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xA5}, int(page)), root*page); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	err = poll()
	if !errors.Is(err, storage.ErrDamaged) || !strings.Contains(err.Error(), dbPath) {
		t.Fatalf("poll of a damaged database: %v; want ErrDamaged naming %s", err, dbPath)
	}
}
