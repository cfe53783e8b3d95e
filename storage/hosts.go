package storage

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketHosts holds the hosts that asked not to be fetched for a while
// (HTTP 429 or 503 with Retry-After): host:port -> until, unix nanos.
var bucketHosts = []byte("hosts")

// putHolds writes a batch's host holds; a zero time deletes the host's.
func putHolds(tx *bolt.Tx, holds map[string]time.Time) error {
	if len(holds) == 0 {
		return nil
	}
	b := tx.Bucket(bucketHosts)
	for host, until := range holds {
		if host == "" {
			return fmt.Errorf("%w: host hold without a host", ErrInvalidBatch)
		}
		var err error
		if until.IsZero() {
			err = b.Delete([]byte(host))
		} else {
			err = b.Put([]byte(host), u64(uint64(until.UnixNano())))
		}
		if err != nil {
			return fmt.Errorf("host %s: %w", host, err)
		}
	}
	return nil
}

// Holds returns every stored host hold, expired or not: host:port -> the
// time until which its sources are left alone.
func (db *DB) Holds() (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := db.viewTx(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHosts)
		if b == nil {
			return nil // a file from before the bucket, opened read-only
		}
		return b.ForEach(func(k, v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("host %s: %w: hold of %d bytes", k, ErrCorrupt, len(v))
			}
			out[string(k)] = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
			return nil
		})
	})
	return out, err
}
